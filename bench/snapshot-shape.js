// The shape of a heap snapshot, for README (Analyzer, Scale): its size, nodes and edges, bytes and
// edges a node, and the share of the file each section takes (found by their keys, read a chunk at
// a time: the sections of numbers hold no quotes, and `strings` comes last).
//
//   node bench/snapshot-shape.js FILE.heapsnapshot
'use strict'
const fs = require('node:fs')

const file = process.argv[2]
if (!file) throw new Error('usage: node bench/snapshot-shape.js FILE.heapsnapshot')
const size = fs.statSync(file).size
const fd = fs.openSync(file, 'r')
const head = Buffer.alloc(1 << 16)
fs.readSync(fd, head, 0, head.length, 0)
const count = (key) => Number(new RegExp(`"${key}":(\\d+)`).exec(head.toString('latin1'))[1])
const nodes = count('node_count')
const edges = count('edge_count')

const keys = ['nodes', 'edges', 'trace_function_infos', 'locations', 'strings']
const at = {}
const chunk = Buffer.alloc(64 << 20)
let pos = 0
let carry = ''
while (pos < size && at.strings === undefined) {
  const n = fs.readSync(fd, chunk, 0, chunk.length, pos)
  const text = carry + chunk.toString('latin1', 0, n)
  for (const k of keys) {
    const i = at[k] === undefined ? text.indexOf(`"${k}":[`) : -1
    if (i >= 0) at[k] = pos - carry.length + i
  }
  pos += n
  carry = text.slice(-32)
}
fs.closeSync(fd)
const share = (bytes) => `${((100 * bytes) / size).toFixed(1)}%`
const afterEdges = at.trace_function_infos ?? at.locations ?? at.strings
console.log(
  JSON.stringify({
    file,
    bytes: size,
    nodes,
    edges,
    bytesPerNode: +(size / nodes).toFixed(1),
    edgesPerNode: +(edges / nodes).toFixed(2),
    nodesSection: share(at.edges - at.nodes),
    edgesSection: share(afterEdges - at.edges),
    stringsSection: share(size - at.strings),
  }),
)
