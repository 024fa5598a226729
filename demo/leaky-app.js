// The demo's victim: a small "server" that keeps every request record in a module-level array,
// the classic leak. node-oom-heapdump is installed the way an app would install it.
'use strict'
require('..')({ path: process.env.DEMO_SNAPSHOT })

class RequestLogEntry {
  constructor(id) {
    this.id = id
    this.method = 'GET'
    this.url = `/api/orders/${id}?expand=items`
    this.receivedAt = Date.now()
  }
}

const requestLog = []
let id = 0
setInterval(() => {
  for (let i = 0; i < 20000; i++) requestLog.push(new RequestLogEntry(id++))
}, 1)
