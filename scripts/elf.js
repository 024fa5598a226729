// The symbol versions an ELF binary needs from its shared libraries (its .gnu.version_r section),
// read without objdump: GLIBC_2.28, GLIBCXX_3.4, CXXABI_1.3.9... The release build checks that no
// shipped binary needs a newer glibc than official Node 20 builds do (2.28), and the tests check it
// again (__test__/prebuilt.test.mjs). Reads 64-bit little-endian ELF (x86_64, aarch64).
'use strict'

const fs = require('node:fs')

const SHT_GNU_VERNEED = 0x6ffffffe
const MAX_BYTES = 256 << 20

/** @returns {Map<string, Set<string>>} library (e.g. libc.so.6) to the versions needed from it. */
function versionsNeeded(file) {
  const size = fs.statSync(file).size
  if (size > MAX_BYTES) throw new Error(`${file}: ${size} bytes, larger than an ELF binary this reads (${MAX_BYTES})`)
  const b = fs.readFileSync(file)
  if (b.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`)
  if (b[4] !== 2 || b[5] !== 1) throw new Error(`${file} is not a 64-bit little-endian ELF file`)
  const shoff = Number(b.readBigUInt64LE(0x28))
  const shentsize = b.readUInt16LE(0x3a)
  const shnum = b.readUInt16LE(0x3c)
  const section = (i) => {
    const o = shoff + i * shentsize
    return { type: b.readUInt32LE(o + 4), offset: Number(b.readBigUInt64LE(o + 0x18)), size: Number(b.readBigUInt64LE(o + 0x20)), link: b.readUInt32LE(o + 0x28), info: b.readUInt32LE(o + 0x2c) }
  }
  const cstr = (o) => b.toString('latin1', o, b.indexOf(0, o))
  const needed = new Map()
  for (let i = 0; i < shnum; i++) {
    const s = section(i)
    if (s.type !== SHT_GNU_VERNEED) continue
    const strtab = section(s.link).offset
    let vn = s.offset
    for (let n = 0; n < s.info; n++) {
      const lib = cstr(strtab + b.readUInt32LE(vn + 4))
      const versions = needed.get(lib) ?? new Set()
      let aux = vn + b.readUInt32LE(vn + 8)
      for (let k = 0; k < b.readUInt16LE(vn + 2); k++) {
        versions.add(cstr(strtab + b.readUInt32LE(aux + 8)))
        aux += b.readUInt32LE(aux + 12)
      }
      needed.set(lib, versions)
      const next = b.readUInt32LE(vn + 12)
      if (next === 0) break
      vn += next
    }
  }
  return needed
}

/** The highest version with `prefix` (e.g. 'GLIBC_') among `needed`, as [2, 28], or null when none. */
function highest(needed, prefix) {
  let best = null
  for (const versions of needed.values()) {
    for (const v of versions) {
      if (!v.startsWith(prefix) || !/^[\d.]+$/.test(v.slice(prefix.length))) continue
      const parts = v.slice(prefix.length).split('.').map(Number)
      if (!best || compare(parts, best) > 0) best = parts
    }
  }
  return best
}

/** Compares two versions given as arrays of numbers. */
function compare(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

module.exports = { versionsNeeded, highest, compare }
