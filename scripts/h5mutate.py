#!/usr/bin/env python3
"""Targeted HDF5 mutator (issue 11): breaks the structures libhdf5 1.10 reads without checking
that rnnconf does not yet check itself, and runs each mutant through the rnnconf CLI.

    python3 scripts/h5mutate.py scan FILE...                  # list the structures found
    python3 scripts/h5mutate.py make --seed 1 --per-field 2 --out DIR FILE...
    python3 scripts/h5mutate.py run --bin .build/debug/rnnconf --out DIR [--jobs 2] [--results NAME.json]
    python3 scripts/h5mutate.py summary --out DIR [--results NAME.json]
    "$RNNCONF_VENV"/bin/python scripts/h5mutate.py variants --out DIR CASE.h5...

`make` is stdlib only, seeded and deterministic: it locates, in each file, the structures below
and writes one mutant per (field, value), each a copy of the file with exactly one field changed
(checksummed metadata, version 2 object headers and the like, gets its checksum recomputed, so
that libhdf5 reads the change instead of refusing the checksum):

  - old-style groups: symbol-table messages (0x0011), v1 B-tree nodes (`TREE`: type, level,
    entries used, siblings, keys, child pointers), symbol nodes (`SNOD`: version, entry count,
    each entry's name offset, header address, cache type, scratch pad), local heaps (`HEAP`:
    data segment size, free list offset, data segment address); the root's symbol table entry
  - data layout messages (0x0008, versions 1-4: class, address, size, dimensions, chunk index),
    fill-value messages (0x0004/0x0005) and filter pipelines (0x000B: count, ids, name lengths,
    client-data counts)
  - shared-message references (a datatype marked shared, its address), the SOHM table
  - attribute-info messages (0x0015), fractal heap headers (`FRHP`), heap direct blocks
    (`FHDB`, where dense attributes live), v2 B-tree headers (`BTHD`), fixed array chunk
    indexes (`FAHD`/`FADB`)

`run` runs `rnnconf run FILE`, `rnnconf list FILE` and `rnnconf inspect --in-process FILE` on every
mutant (20 s timeout, 4 GiB address space), classifies each run (named error, exit 0, signal,
timeout, out of memory, other) and writes `results.json` and the counts.

`variants` (needs h5py) rewrites a case file with the storage the fixtures lack: libver latest
(version 2 headers, dense attributes on the root), chunked and compressed datasets with fill
values (old- and new-style chunk indexes), committed datatypes, shared object header messages.
"""
import argparse
import json
import os
import random
import resource
import struct
import subprocess
import sys
import time

SIG = b"\x89HDF\r\n\x1a\n"
UNDEF = None  # set per file


# --------------------------------------------------------------------------- checksum
def _rot(x, k):
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def lookup3(data, initval=0):
    """Bob Jenkins' hashlittle, as libhdf5's H5_checksum_lookup3."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & 0xFFFFFFFF
    i = 0
    M = 0xFFFFFFFF
    while length > 12:
        a = (a + data[i] + (data[i + 1] << 8) + (data[i + 2] << 16) + (data[i + 3] << 24)) & M
        b = (b + data[i + 4] + (data[i + 5] << 8) + (data[i + 6] << 16) + (data[i + 7] << 24)) & M
        c = (c + data[i + 8] + (data[i + 9] << 8) + (data[i + 10] << 16) + (data[i + 11] << 24)) & M
        a = (a - c) & M; a ^= _rot(c, 4); c = (c + b) & M
        b = (b - a) & M; b ^= _rot(a, 6); a = (a + c) & M
        c = (c - b) & M; c ^= _rot(b, 8); b = (b + a) & M
        a = (a - c) & M; a ^= _rot(c, 16); c = (c + b) & M
        b = (b - a) & M; b ^= _rot(a, 19); a = (a + c) & M
        c = (c - b) & M; c ^= _rot(b, 4); b = (b + a) & M
        length -= 12
        i += 12
    if length == 0:
        return c
    tail = data[i:i + length] + bytes(12 - length)
    a = (a + tail[0] + (tail[1] << 8) + (tail[2] << 16) + (tail[3] << 24)) & M
    b = (b + tail[4] + (tail[5] << 8) + (tail[6] << 16) + (tail[7] << 24)) & M
    c = (c + tail[8] + (tail[9] << 8) + (tail[10] << 16) + (tail[11] << 24)) & M
    c ^= b; c = (c - _rot(b, 14)) & M
    a ^= c; a = (a - _rot(c, 11)) & M
    b ^= a; b = (b - _rot(a, 25)) & M
    c ^= b; c = (c - _rot(b, 16)) & M
    a ^= c; a = (a - _rot(c, 4)) & M
    b ^= a; b = (b - _rot(a, 14)) & M
    c ^= b; c = (c - _rot(b, 24)) & M
    return c


# --------------------------------------------------------------------------- parsing
class Field:
    """One field to break: where, how wide, what structure, and the checksummed region around it."""

    def __init__(self, cls, name, offset, width, csum=None, kind="int"):
        self.cls, self.name, self.offset, self.width, self.csum, self.kind = cls, name, offset, width, csum, kind

    def key(self):
        return f"{self.cls}:{self.name}@{self.offset}"


class H5:
    def __init__(self, data, embedded=True):
        self.d = data
        self.fields = []
        self.seen_headers = set()
        self.seen = set()
        self.base = 0
        at = 0
        while at + 8 <= len(data):
            if data[at:at + 8] == SIG:
                break
            at = 512 if at == 0 else at * 2
        else:
            raise ValueError("no HDF5 superblock")
        self.sb = at
        self.version = data[at + 8]
        if self.version <= 1:
            self.sa, self.sl = data[at + 13], data[at + 14]
            p = at + (24 if self.version == 0 else 28)
            self.base = self.u(p, self.sa)
            self.undef = (1 << (8 * self.sa)) - 1
            entry = p + 4 * self.sa
            self.add("superblock", "driver block address", p + 3 * self.sa, self.sa)
            self.add("superblock", "eof address", p + 2 * self.sa, self.sa)
            self.symbol_entry("root symbol table entry", entry, "/")
        else:
            self.sa, self.sl = data[at + 9], data[at + 10]
            self.undef = (1 << (8 * self.sa)) - 1
            p = at + 12
            self.base = self.u(p, self.sa)
            csum = (at, p + 4 * self.sa - at)
            ext = self.u(p + self.sa, self.sa)
            self.add("superblock", "root object header address", p + 3 * self.sa, self.sa, csum)
            self.add("superblock", "superblock extension address", p + self.sa, self.sa, csum)
            if ext != self.undef:
                self.header(ext, "superblock extension")
            self.header(self.u(p + 3 * self.sa, self.sa), "/")
        self.scan_signatures()
        if embedded:
            self.embedded_files()

    def embedded_files(self):
        """HDF5 files carried inside this one (a Keras case's `artifacts/model.h5`, opened from memory)."""
        i = self.d.find(SIG, self.sb + 8)
        while i > 0:
            try:
                inner = H5(self.d[i:], embedded=False)
            except Exception:
                inner = None
            if inner:
                for f in inner.fields:
                    csum = (f.csum[0] + i, f.csum[1]) if f.csum else None
                    self.fields.append(Field("embedded " + f.cls, f.name, f.offset + i, f.width, csum, f.kind))
            i = self.d.find(SIG, i + 8)

    def u(self, o, n):
        return int.from_bytes(self.d[o:o + n], "little")

    def abs(self, a):
        return self.base + a

    def inside(self, a, n=1):
        return a != self.undef and 0 <= self.abs(a) and self.abs(a) + n <= len(self.d)

    def add(self, cls, name, offset, width, csum=None, kind="int"):
        if 0 <= offset and offset + width <= len(self.d):
            self.fields.append(Field(cls, name, offset, width, csum, kind))

    # ---- old-style groups
    def symbol_entry(self, what, o, path):
        sa, sl = self.sa, self.sl
        self.add("symbol entry", f"{what} name offset", o, sl)
        self.add("symbol entry", f"{what} header address", o + sl, sa)
        self.add("symbol entry", f"{what} cache type", o + sl + sa, 4)
        cache = self.u(o + sl + sa, 4)
        if cache == 1:
            self.add("symbol entry", f"{what} scratch B-tree address", o + sl + sa + 8, sa)
            self.add("symbol entry", f"{what} scratch heap address", o + sl + sa + 8 + sa, sa)
        self.header(self.u(o + sl, sa), path)

    def local_heap(self, a):
        if not self.inside(a, 8) or a in self.seen:
            return None
        self.seen.add(a)
        o = self.abs(a)
        if self.d[o:o + 4] != b"HEAP":
            return None
        sl, sa = self.sl, self.sa
        self.add("local heap", "version", o + 4, 1)
        self.add("local heap", "data segment size", o + 8, sl)
        self.add("local heap", "free list offset", o + 8 + sl, sl)
        self.add("local heap", "data segment address", o + 8 + 2 * sl, sa)
        return self.abs(self.u(o + 8 + 2 * sl, sa)), self.u(o + 8, sl)

    def v1_btree(self, a, path, heap, depth=0, rank=0):
        if depth > 8 or not self.inside(a, 8) or a in self.seen:
            return
        self.seen.add(a)
        o = self.abs(a)
        if self.d[o:o + 4] != b"TREE":
            return
        sa, sl = self.sa, self.sl
        ntype, level, used = self.d[o + 4], self.d[o + 5], self.u(o + 6, 2)
        cls = "v1 B-tree (group)" if ntype == 0 else "v1 B-tree (chunks)"
        self.add(cls, "signature", o, 4, kind="bytes")
        self.add(cls, "node type", o + 4, 1)
        self.add(cls, "level", o + 5, 1)
        self.add(cls, "entries used", o + 6, 2)
        self.add(cls, "left sibling", o + 8, sa)
        self.add(cls, "right sibling", o + 8 + sa, sa)
        p = o + 8 + 2 * sa
        keysize = sl if ntype == 0 else 8 + 8 * (rank + 1)
        for i in range(min(used, 64)):
            self.add(cls, f"key {i}", p, keysize if ntype == 0 else 4)
            if ntype == 1:
                self.add(cls, f"key {i} filter mask", p + 4, 4)
                for k in range(rank + 1):
                    self.add(cls, f"key {i} offset {k}", p + 8 + 8 * k, 8)
            child = self.u(p + keysize, sa)
            self.add(cls, f"child {i}", p + keysize, sa)
            if level > 0:
                self.v1_btree(child, path, heap, depth + 1, rank)
            elif ntype == 0:
                self.snod(child, path, heap)
            p += keysize + sa
        self.add(cls, f"key {min(used, 64)} (last)", p, keysize if ntype == 0 else 4)

    def snod(self, a, path, heap):
        if not self.inside(a, 8) or a in self.seen:
            return
        self.seen.add(a)
        o = self.abs(a)
        if self.d[o:o + 4] != b"SNOD":
            return
        self.add("symbol node", "version", o + 4, 1)
        self.add("symbol node", "entry count", o + 6, 2)
        n = self.u(o + 6, 2)
        esize = self.sl + self.sa + 24
        for i in range(min(n, 256)):
            e = o + 8 + i * esize
            name = "?"
            if heap:
                no = heap[0] + self.u(e, self.sl)
                end = self.d.find(b"\0", no, no + 256)
                if end > 0:
                    name = self.d[no:end].decode("latin-1")
            self.symbol_entry(f"entry {i} `{name}`", e, path.rstrip("/") + "/" + name)

    # ---- object headers
    def header(self, a, path):
        if not self.inside(a, 16) or a in self.seen_headers:
            return
        self.seen_headers.add(a)
        try:
            self._header(a, path)
        except IndexError:
            pass  # a corrupt file: keep what was found

    def _header(self, a, path):
        o = self.abs(a)
        msgs = []
        if self.d[o:o + 4] == b"OHDR":
            flags = self.d[o + 5]
            pre = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
            sb = 1 << (flags & 3)
            size = self.u(o + pre, sb)
            start = o + pre + sb
            csum = (o, pre + sb + size)
            mh = 4 + (2 if flags & 4 else 0)
            chunks = [(start, start + size, csum, mh)]
        elif self.d[o] == 1:
            size = self.u(o + 8, 4)
            self.add("object header v1", "message count", o + 2, 2)
            self.add("object header v1", "header size", o + 8, 4)
            chunks = [(o + 16, o + 16 + size, None, 8)]
        else:
            return
        v2 = self.d[o] != 1
        k = 0
        while k < len(chunks) and k < 64:
            s, e, csum, mh = chunks[k]
            k += 1
            p = s
            while p + mh <= e:
                if v2:
                    t, size, fl = self.d[p], self.u(p + 1, 2), self.d[p + 3]
                else:
                    t, size, fl = self.u(p, 2), self.u(p + 2, 2), self.d[p + 4]
                data = p + mh
                if data + size > e:
                    break
                msgs.append((t, fl, data, size, csum))
                if t == 0x10:
                    to, ln = self.u(data, self.sa), self.u(data + self.sa, self.sl)
                    if self.inside(to, ln) and ln > 0:
                        c = self.abs(to)
                        if v2:
                            chunks.append((c + 4, c + ln - 4, (c, ln - 4), mh))
                        else:
                            chunks.append((c, c + ln, None, mh))
                p = data + size
        rank = 0
        for t, fl, data, size, csum in msgs:
            if t == 0x01 and not fl & 2:
                rank = self.d[data + 1]
        for t, fl, data, size, csum in msgs:
            self.message(t, fl, data, size, csum, path, rank)

    def message(self, t, fl, o, size, csum, path, rank):
        sa, sl = self.sa, self.sl
        if fl & 2 and t in (0x01, 0x03, 0x0C, 0x05, 0x0B):
            cls = "shared message reference"
            self.add(cls, f"type 0x{t:x} version", o, 1, csum)
            self.add(cls, f"type 0x{t:x} type", o + 1, 1, csum)
            ver = self.d[o]
            ao = o + (8 if ver == 1 else 2)
            if ver == 3 and self.d[o + 1] == 1:
                self.add(cls, f"type 0x{t:x} heap id", o + 2, 8, csum)
            else:
                self.add(cls, f"type 0x{t:x} address", ao, sa, csum)
                self.header(self.u(ao, sa), path + " (committed datatype)")
            return
        if t == 0x11:
            cls = "symbol table message"
            self.add(cls, "B-tree address", o, sa, csum)
            self.add(cls, "local heap address", o + sa, sa, csum)
            heap = self.local_heap(self.u(o + sa, sa))
            self.v1_btree(self.u(o, sa), path, heap)
        elif t == 0x06:  # link message: follow hard links
            ver, flags = self.d[o], self.d[o + 1]
            p = o + 2
            ltype = 0
            if flags & 0x08:
                ltype = self.d[p]; p += 1
            if flags & 0x04:
                p += 8
            if flags & 0x10:
                p += 1
            nl = 1 << (flags & 3)
            n = self.u(p, nl); p += nl
            name = self.d[p:p + n].decode("latin-1"); p += n
            if ltype == 0:
                self.header(self.u(p, sa), path.rstrip("/") + "/" + name)
        elif t == 0x08:
            self.layout(o, size, csum, path, rank)
        elif t == 0x0B:
            self.filters(o, size, csum)
        elif t in (0x04, 0x05):
            cls = "fill value message"
            if t == 0x04:
                self.add(cls, "old fill size", o, 4, csum)
            else:
                ver = self.d[o]
                self.add(cls, "version", o, 1, csum)
                if ver in (1, 2):
                    self.add(cls, "space allocation time", o + 1, 1, csum)
                    self.add(cls, "fill write time", o + 2, 1, csum)
                    self.add(cls, "fill defined", o + 3, 1, csum)
                    if ver == 1 or self.d[o + 3]:
                        self.add(cls, "fill size", o + 4, 4, csum)
                elif ver == 3:
                    self.add(cls, "flags", o + 1, 1, csum)
                    if self.d[o + 1] & 0x20:
                        self.add(cls, "fill size", o + 2, 4, csum)
        elif t == 0x15:
            cls = "attribute info message"
            flags = self.d[o + 1]
            p = o + 2 + (2 if flags & 1 else 0)
            self.add(cls, "flags", o + 1, 1, csum)
            self.add(cls, "fractal heap address", p, sa, csum)
            self.add(cls, "name index address", p + sa, sa, csum)
            self.fractal_heap(self.u(p, sa))
            self.btree2(self.u(p + sa, sa))
        elif t == 0x02:
            flags = self.d[o + 1]
            p = o + 2 + (8 if flags & 1 else 0)
            self.fractal_heap(self.u(p, sa))
            self.btree2(self.u(p + sa, sa))
        elif t == 0x0F:
            cls = "shared message table message"
            self.add(cls, "table address", o + 1, sa, csum)
            self.add(cls, "index count", o + 1 + sa, 1, csum)
            self.smtb(self.u(o + 1, sa))
        elif t == 0x0C:
            # An attribute's own datatype and dataspace may be shared (attribute flags).
            ver, flags = self.d[o], self.d[o + 1]
            if ver >= 2 and flags & 1:
                nl, ts = self.u(o + 2, 2), self.u(o + 4, 2)
                to = o + 8 + (1 if ver == 3 else 0) + nl
                self.add("shared message reference", "attribute's shared datatype address", to + 2, sa, csum)
                self.header(self.u(to + 2, sa), path + " (committed datatype)")

    def layout(self, o, size, csum, path, rank):
        sa, sl = self.sa, self.sl
        cls = "data layout message"
        ver = self.d[o]
        self.add(cls, "version", o, 1, csum)
        if ver in (1, 2):
            nd, lc = self.d[o + 1], self.d[o + 2]
            self.add(cls, "dimensionality", o + 1, 1, csum)
            self.add(cls, "layout class", o + 2, 1, csum)
            p = o + 8
            if lc != 0:
                self.add(cls, "address", p, sa, csum)
                p += sa
            for k in range(nd):
                self.add(cls, f"dimension {k}", p + 4 * k, 4, csum)
            p += 4 * nd
            if lc == 0:
                self.add(cls, "compact size", p, 4, csum)
            elif lc == 2:
                self.v1_btree(self.u(o + 8, sa), path, None, rank=rank)
            return
        lc = self.d[o + 1]
        self.add(cls, "layout class", o + 1, 1, csum)
        p = o + 2
        if lc == 0:
            self.add(cls, "compact size", p, 2, csum)
        elif lc == 1:
            self.add(cls, "contiguous address", p, sa, csum)
            self.add(cls, "contiguous size", p + sa, sl, csum)
        elif lc == 2 and ver == 3:
            nd = self.d[p]
            self.add(cls, "chunk dimensionality", p, 1, csum)
            self.add(cls, "chunk B-tree address", p + 1, sa, csum)
            for k in range(nd):
                self.add(cls, f"chunk dimension {k}", p + 1 + sa + 4 * k, 4, csum)
            self.v1_btree(self.u(p + 1, sa), path, None, rank=rank)
        elif lc == 2 and ver == 4:
            flags, nd, enc = self.d[p], self.d[p + 1], self.d[p + 2]
            self.add(cls, "v4 chunk flags", p, 1, csum)
            self.add(cls, "v4 chunk dimensionality", p + 1, 1, csum)
            self.add(cls, "v4 dimension size encoded length", p + 2, 1, csum)
            q = p + 3
            for k in range(nd):
                self.add(cls, f"v4 chunk dimension {k}", q, enc, csum)
                q += enc
            itype = self.d[q]
            self.add(cls, "v4 chunk index type", q, 1, csum)
            q += 1
            if itype == 1:  # single chunk
                if flags & 2:
                    self.add(cls, "single chunk filtered size", q, sl, csum)
                    self.add(cls, "single chunk filter mask", q + sl, 4, csum)
                    q += sl + 4
                self.add(cls, "single chunk address", q, sa, csum)
            elif itype == 3:  # fixed array
                self.add(cls, "fixed array page bits", q, 1, csum)
                self.add(cls, "fixed array address", q + 1, sa, csum)
                self.fixed_array(self.u(q + 1, sa))
            elif itype == 4:
                self.add(cls, "extensible array parameters", q, 5, csum, kind="bytes")
                self.add(cls, "extensible array address", q + 5, sa, csum)
            elif itype == 5:
                self.add(cls, "v2 B-tree parameters", q, 6, csum, kind="bytes")
                self.add(cls, "v2 B-tree address", q + 6, sa, csum)
            elif itype == 2:
                self.add(cls, "implicit index address", q, sa, csum)

    def filters(self, o, size, csum):
        cls = "filter pipeline message"
        ver, n = self.d[o], self.d[o + 1]
        self.add(cls, "version", o, 1, csum)
        self.add(cls, "filter count", o + 1, 1, csum)
        p = o + (8 if ver == 1 else 2)
        end = o + size
        for i in range(min(n, 32)):
            if p + 8 > end:
                break
            fid = self.u(p, 2)
            self.add(cls, f"filter {i} id", p, 2, csum)
            if ver == 1 or fid >= 256:
                nl = self.u(p + 2, 2)
                self.add(cls, f"filter {i} name length", p + 2, 2, csum)
                q = p + 4
            else:
                nl = 0
                q = p + 2
            self.add(cls, f"filter {i} flags", q, 2, csum)
            nv = self.u(q + 2, 2)
            self.add(cls, f"filter {i} client data count", q + 2, 2, csum)
            q += 4
            q += (nl + 7) // 8 * 8 if ver == 1 else nl
            for k in range(min(nv, 16)):
                self.add(cls, f"filter {i} client data {k}", q + 4 * k, 4, csum)
            q += 4 * nv
            if ver == 1 and nv % 2:
                q += 4
            p = q

    # ---- new-style structures
    def fractal_heap(self, a):
        if not self.inside(a, 8) or a in self.seen:
            return
        self.seen.add(a)
        o = self.abs(a)
        if self.d[o:o + 4] != b"FRHP":
            return
        sa, sl = self.sa, self.sl
        # without the checksum; with I/O filters, the filtered root block's size, mask and filter info
        io_filter = self.u(o + 7, 2)
        hsize = 22 + 12 * sl + 3 * sa + (sl + 4 + io_filter if io_filter else 0)
        flags_at = o + 9
        csum = (o, hsize)
        cls = "fractal heap header"
        self.add(cls, "heap ID length", o + 5, 2, csum)
        self.add(cls, "I/O filter length", o + 7, 2, csum)
        self.add(cls, "flags", flags_at, 1, csum)
        self.add(cls, "max managed object size", o + 10, 4, csum)
        q = o + 14 + sl  # next huge ID
        self.add(cls, "huge objects B-tree address", q, sa, csum)
        q += sa
        self.add(cls, "free space in managed blocks", q, sl, csum)
        q += sl
        self.add(cls, "free-space manager address", q, sa, csum)
        q += sa
        self.add(cls, "managed space", q, sl, csum)
        self.add(cls, "allocated managed space", q + sl, sl, csum)
        self.add(cls, "managed objects count", q + 3 * sl, sl, csum)
        q += 4 * sl + 4 * sl  # managed*4, huge*2, tiny*2
        self.add(cls, "table width", q, 2, csum)
        width = self.u(q, 2)
        self.add(cls, "starting block size", q + 2, sl, csum)
        start_block = self.u(q + 2, sl)
        self.add(cls, "max direct block size", q + 2 + sl, sl, csum)
        self.add(cls, "max heap size (bits)", q + 2 + 2 * sl, 2, csum)
        self.add(cls, "starting rows of root indirect block", q + 4 + 2 * sl, 2, csum)
        root = self.u(q + 6 + 2 * sl, sa)
        self.add(cls, "root block address", q + 6 + 2 * sl, sa, csum)
        self.add(cls, "current rows of root indirect block", q + 6 + 2 * sl + sa, 2, csum)
        rows = self.u(q + 6 + 2 * sl + sa, 2)
        if rows == 0 and self.inside(root, 8) and self.d[self.abs(root):self.abs(root) + 4] == b"FHDB":
            r = self.abs(root)
            # direct block: sig, version, heap header address, block offset (max heap size bits / 8)
            mhs = self.u(q + 2 + 2 * sl, 2)
            off_bytes = (mhs + 7) // 8
            data_start = r + 5 + sa + off_bytes + (4 if self.d[flags_at] & 2 else 0)
            n = min(start_block, len(self.d) - r)
            self.add("fractal heap direct block", "block offset", r + 5 + sa, off_bytes)
            # every byte range of the block's objects (dense attributes, links)
            step = max(1, (n - (data_start - r)) // 48)
            for k in range(data_start, r + n, step):
                self.add("fractal heap direct block", f"object byte +{k - r}", k, 1)

    def btree2(self, a):
        if not self.inside(a, 8) or a in self.seen:
            return
        self.seen.add(a)
        o = self.abs(a)
        if self.d[o:o + 4] != b"BTHD":
            return
        sa, sl = self.sa, self.sl
        csum = (o, 22 + sa + sl - 4)
        cls = "v2 B-tree header"
        self.add(cls, "type", o + 5, 1, csum)
        self.add(cls, "node size", o + 6, 4, csum)
        self.add(cls, "record size", o + 10, 2, csum)
        self.add(cls, "depth", o + 12, 2, csum)
        self.add(cls, "split percent", o + 14, 1, csum)
        self.add(cls, "merge percent", o + 15, 1, csum)
        self.add(cls, "root node address", o + 16, sa, csum)
        self.add(cls, "root record count", o + 16 + sa, 2, csum)
        self.add(cls, "total records", o + 18 + sa, sl, csum)

    def fixed_array(self, a):
        if not self.inside(a, 8) or a in self.seen:
            return
        self.seen.add(a)
        o = self.abs(a)
        if self.d[o:o + 4] != b"FAHD":
            return
        sa, sl = self.sa, self.sl
        csum = (o, 8 + sl + sa)
        cls = "fixed array header"
        self.add(cls, "client ID", o + 5, 1, csum)
        self.add(cls, "entry size", o + 6, 1, csum)
        self.add(cls, "page bits", o + 7, 1, csum)
        self.add(cls, "entry count", o + 8, sl, csum)
        self.add(cls, "data block address", o + 8 + sl, sa, csum)

    def smtb(self, a):
        if not self.inside(a, 8) or a in self.seen:
            return
        self.seen.add(a)
        o = self.abs(a)
        if self.d[o:o + 4] != b"SMTB":
            return
        cls = "shared message table"
        csum = (o, 4 + 14 + 2 * self.sa)  # one index (what `variants` writes)
        # one index: version, type, flags(4), max list, min btree, (2+2), index address, heap address
        p = o + 4
        self.add(cls, "index 0 version", p, 1, csum)
        self.add(cls, "index 0 type", p + 1, 1, csum)
        self.add(cls, "index 0 message types", p + 2, 2, csum)
        self.add(cls, "index 0 min size", p + 4, 4, csum)
        self.add(cls, "index 0 list max", p + 8, 2, csum)
        self.add(cls, "index 0 btree min", p + 10, 2, csum)
        self.add(cls, "index 0 message count", p + 12, 2, csum)
        self.add(cls, "index 0 index address", p + 14, self.sa, csum)
        self.add(cls, "index 0 heap address", p + 14 + self.sa, self.sa, csum)
        self.fractal_heap(self.u(p + 14 + self.sa, self.sa))

    def scan_signatures(self):
        """Structures not reached by the walk (a B-tree of a dataset this walk did not parse)."""
        for sig, fn in ((b"TREE", None), (b"HEAP", self.local_heap), (b"FRHP", self.fractal_heap), (b"BTHD", self.btree2),
                        (b"FAHD", self.fixed_array), (b"SMTB", self.smtb)):
            i = self.d.find(sig)
            while i >= 0:
                a = i - self.base
                if fn:
                    fn(a)
                i = self.d.find(sig, i + 1)


# --------------------------------------------------------------------------- mutation
def values_for(f, h, rng, n):
    w = f.width
    top = (1 << (8 * w)) - 1
    cur = int.from_bytes(h.d[f.offset:f.offset + w], "little")
    cands = [0, top, cur ^ (1 << rng.randrange(8 * w)), (cur + 1) & top, (cur - 1) & top, top >> 1,
             min(top, len(h.d) - h.base), min(top, len(h.d) - h.base - 1), min(top, cur * 2 + 1)]
    if w >= 4:
        cands += [0x7FFFFFFF, 0xFFFF, min(top, 1 << 31), min(top, 0xFFFFFF00)]
    if w == 8 or w == h.sa:
        cands += [h.sb, min(top, rng.randrange(max(1, len(h.d) - h.base)))]
    seen, out = set(), []
    for v in cands:
        if v != cur and v not in seen:
            seen.add(v)
            out.append(v)
    # the first three always (zero, all ones, a flipped bit); the rest sampled
    head, tail = out[:3], out[3:]
    rng.shuffle(tail)
    return head + tail[:max(0, n - 3)]


def apply(h, f, value):
    d = bytearray(h.d)
    d[f.offset:f.offset + f.width] = value.to_bytes(f.width, "little")
    if f.csum:
        s, n = f.csum
        if s + n + 4 <= len(d):
            d[s + n:s + n + 4] = lookup3(bytes(d[s:s + n])).to_bytes(4, "little")
    return bytes(d)


def cmd_scan(args):
    for path in args.files:
        h = H5(open(path, "rb").read())
        counts = {}
        for f in h.fields:
            counts[f.cls] = counts.get(f.cls, 0) + 1
        print(path, f"superblock v{h.version}", json.dumps(counts, sort_keys=True))
        if args.verbose:
            for f in h.fields:
                print("   ", f.key(), f.width)


def cmd_make(args):
    os.makedirs(args.out, exist_ok=True)
    manifest = []
    for fi, path in enumerate(sorted(args.files)):
        data = open(path, "rb").read()
        h = H5(data)
        rng = random.Random(f"{args.seed}:{os.path.basename(path)}")
        fields = list({(f.offset, f.width): f for f in h.fields}.values())
        if args.classes:
            fields = [f for f in fields if f.cls in args.classes.split(",")]
        if args.max_fields and len(fields) > args.max_fields:
            fields = rng.sample(fields, args.max_fields)
            fields.sort(key=lambda f: f.offset)
        stem = os.path.splitext(os.path.basename(path))[0]
        for f in fields:
            for v in values_for(f, h, rng, args.per_field):
                m = apply(h, f, v)
                if m == data:
                    continue
                name = f"{stem}-{f.offset:x}-{v:x}.h5"[:200]
                with open(os.path.join(args.out, name), "wb") as out:
                    out.write(m)
                manifest.append({"file": name, "source": path, "class": f.cls, "field": f.name,
                                 "offset": f.offset, "width": f.width, "value": v})
    with open(os.path.join(args.out, "manifest.json"), "w") as out:
        json.dump(manifest, out, indent=0)
    print(f"{len(manifest)} mutants in {args.out}")


# --------------------------------------------------------------------------- running
def classify(rc, sig, timed_out, out, err, path, maxrss_kb):
    """timeout, signal N, oom (over 1 GiB resident: these files are 4-40 KB), named error (exit 1 naming the file;
    "named error, allocation refused" when libhdf5 reports a failed allocation, i.e. it asked
    for what the file declared and the 4 GiB cap, or a size of 0, refused it), exit 0, exit N."""
    if timed_out:
        return "timeout"
    if sig:
        return f"signal {sig}"
    if maxrss_kb > 1 << 20:
        return "oom"
    text = out + err
    if rc == 0:
        return "exit 0, allocation refused" if "memory allocation failed" in text else "exit 0"
    if rc == 1 and os.path.basename(path) in text:
        return "named error, allocation refused" if "memory allocation failed" in text else "named error"
    return f"exit {rc}"


def normalized(r):
    """Results of a run before `classify` knew "allocation refused" (it said oom from the text)."""
    if r["result"] == "oom" and r.get("maxrss_mb", 0) <= 1024 and r["rc"] in (0, 1):
        return "named error, allocation refused" if r["rc"] == 1 else "exit 0, allocation refused"
    return r["result"]


def run_one(binary, argv, path, timeout):
    """One run under a 4 GiB address-space cap; returns (rc, signal, timed out, stdout, stderr,
    seconds, peak resident KiB from wait4)."""
    import tempfile

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    t = time.time()
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen([binary] + argv + [path], stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, preexec_fn=limit)
        timed_out = False
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.time() - t > timeout and not timed_out:
                timed_out = True
                p.kill()
            time.sleep(0.02)
        p.returncode = 0  # reaped here; keep Popen from waiting again
        fo.seek(0); fe.seek(0)
        out, err = fo.read().decode("utf-8", "replace"), fe.read().decode("utf-8", "replace")
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -sig
    return rc, sig, timed_out, out, err, time.time() - t, ru.ru_maxrss


def cmd_run(args):
    from concurrent.futures import ThreadPoolExecutor
    manifest = json.load(open(os.path.join(args.out, "manifest.json")))
    commands = {"run": ["run"], "list": ["list"], "inspect --in-process": ["inspect", "--in-process"]}
    jobs = []
    for m in manifest:
        for name, argv in commands.items():
            jobs.append((m, name, argv))

    def work(job):
        m, name, argv = job
        path = os.path.join(args.out, m["file"])
        rc, sig, to, out, err, secs, rss = run_one(args.bin, argv, path, args.timeout)
        c = classify(rc, sig, to, out, err, path, rss)
        return {"file": m["file"], "class": m["class"], "field": m["field"], "command": name, "result": c,
                "rc": rc, "seconds": round(secs, 2), "maxrss_mb": rss // 1024, "message": (err or out).strip().splitlines()[-1:] if c != "named error" else []}

    results = []
    with ThreadPoolExecutor(args.jobs) as ex:
        for i, r in enumerate(ex.map(work, jobs)):
            results.append(r)
            if not r["result"].startswith(("named error", "exit 0")):
                print(r["command"], r["file"], r["class"], r["field"], r["result"], r["message"], flush=True)
    json.dump(results, open(os.path.join(args.out, args.results), "w"), indent=0)
    summarize(results)


def summarize(results):
    by = {}
    for r in results:
        r["result"] = normalized(r)
        k = (r["command"], r["result"])
        by[k] = by.get(k, 0) + 1
    files = len({r["file"] for r in results})
    print(f"{files} mutants, {len(results)} runs")
    for k in sorted(by):
        print(f"  {k[0]:22} {k[1]:32} {by[k]}")
    bad, refused = {}, {}
    for r in results:
        if not r["result"].startswith(("named error", "exit 0")):
            bad.setdefault((r["class"], r["field"], r["result"]), set()).add(r["file"])
        elif r["result"].endswith("allocation refused"):
            refused.setdefault((r["class"], r["field"]), set()).add(r["file"])
    for k in sorted(bad):
        print(f"  FAULT {k[0]} / {k[1]}: {k[2]} x{len(bad[k])} mutants")
    for k in sorted(refused):
        print(f"  allocation refused {k[0]} / {k[1]}: x{len(refused[k])} mutants")
    classes = {}
    for r in results:
        c = classes.setdefault(r["class"], [set(), set()])
        c[0].add(r["file"])
        if not r["result"].startswith(("named error", "exit 0")):
            c[1].add(r["file"])
    print("  per class: mutants, mutants with a fault in any command")
    for k in sorted(classes):
        print(f"    {k:34} {len(classes[k][0]):5} {len(classes[k][1]):5}")


def cmd_summary(args):
    summarize(json.load(open(os.path.join(args.out, args.results))))


# --------------------------------------------------------------------------- variants (h5py)
def cmd_variants(args):
    import h5py
    import numpy as np
    os.makedirs(args.out, exist_ok=True)

    def copy_attrs(src, dst):
        for k in src.attrs:
            aid = src.attrs.get_id(k)
            dst.attrs.create(k, src.attrs[k], dtype=aid.dtype)

    def copy(src, dst, ds_kw, named=None):
        copy_attrs(src, dst)
        for k, o in src.items():
            if isinstance(o, h5py.Group):
                copy(o, dst.create_group(k), ds_kw, named)
            else:
                data = o[()]
                kw = dict(ds_kw) if o.shape and o.size > 1 else {}
                if "chunks" in kw and kw["chunks"] == "half":
                    kw["chunks"] = tuple(max(1, s // 2) for s in o.shape)
                dt = o.dtype
                if named is not None and o.dtype.kind == "f":
                    key = str(o.dtype)
                    if key not in named:
                        dst.file[f"type_{key}"] = o.dtype
                        named[key] = dst.file[f"type_{key}"]
                    dt = named[key]
                d = dst.create_dataset(k, data=data, dtype=dt, **kw)
                copy_attrs(o, d)

    for path in args.files:
        stem = os.path.splitext(os.path.basename(path))[0]
        src = h5py.File(path, "r")
        recipes = {
            "chunked-v1btree": dict(libver="earliest", kw=dict(chunks="half", compression="gzip", shuffle=True, fillvalue=0.5)),
            "latest-dense": dict(libver="latest", kw=dict(chunks="half", compression="gzip", fletcher32=True, fillvalue=1.5)),
            "latest-contiguous": dict(libver="latest", kw=dict(fillvalue=2.0)),
            "committed-types": dict(libver="earliest", kw={}, named=True),
            "sohm": dict(libver="latest", kw=dict(chunks="half", compression="gzip"), sohm=True),
        }
        for name, r in recipes.items():
            out = os.path.join(args.out, f"{stem}--{name}.h5")
            if r.get("sohm"):
                # h5py has no binding for shared object header messages: set them on its file
                # creation property list through the libhdf5 h5py itself loaded.
                import ctypes
                import glob
                fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
                libdir = os.path.join(os.path.dirname(h5py.__file__), os.pardir, "h5py.libs")
                libs = glob.glob(os.path.join(libdir, "libhdf5-*.so*")) or ["libhdf5.so"]
                lib = ctypes.CDLL(libs[0])
                assert lib.H5Pset_shared_mesg_nindexes(ctypes.c_int64(fcpl.id), ctypes.c_uint(1)) >= 0
                assert lib.H5Pset_shared_mesg_index(ctypes.c_int64(fcpl.id), ctypes.c_uint(0), ctypes.c_uint(0xFF),
                                                    ctypes.c_uint(8)) >= 0
                fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
                fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
                fid = h5py.h5f.create(out.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
                dst = h5py.File(fid)
            else:
                dst = h5py.File(out, "w", libver=r["libver"])
            copy(src, dst, r["kw"], {} if r.get("named") else None)
            dst.close()
            print(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan")
    s.add_argument("files", nargs="+")
    s.add_argument("-v", "--verbose", action="store_true")
    m = sub.add_parser("make")
    m.add_argument("files", nargs="+")
    m.add_argument("--seed", default="1")
    m.add_argument("--per-field", type=int, default=3)
    m.add_argument("--max-fields", type=int, default=0)
    m.add_argument("--classes", default="")
    m.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--bin", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--timeout", type=float, default=20)
    r.add_argument("--results", default="results.json")
    u = sub.add_parser("summary")
    u.add_argument("--out", required=True)
    u.add_argument("--results", default="results.json")
    v = sub.add_parser("variants")
    v.add_argument("files", nargs="+")
    v.add_argument("--out", required=True)
    a = ap.parse_args()
    {"scan": cmd_scan, "make": cmd_make, "run": cmd_run, "summary": cmd_summary, "variants": cmd_variants}[a.cmd](a)


if __name__ == "__main__":
    main()
