"""Drop the symbol tables and debug sections of a shared library as it is copied.

Why: wheels ship libraries unstripped (PyTorch's `libtorch_cpu.so` carries 89 MB of
`.symtab`/`.strtab`, uvloop's `loop.so` 11 MB), and a serving image never reads them:
the dynamic loader maps the program headers' segments and resolves names through
`.dynsym`, which stays. Only a native stack trace loses its function names.

Why not `strip`: slim base images have no binutils, and this must run in their build
stage. Why safe: the bytes every program header covers are copied unchanged, only
non-loaded sections after them go, and any layout this does not fully understand
(32-bit or big-endian files, dropped sections among loaded ones, a kept section that
links to a dropped one) is left exactly as it was.
"""

from __future__ import annotations

import struct

ELF64_LITTLE = b"\x7fELF\x02\x01"
SHF_ALLOC = 0x2
SHF_INFO_LINK = 0x40
SHT_NOBITS = 8
SHT_REL, SHT_RELA = 9, 4
HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
PROGRAM_HEADER = struct.Struct("<IIQQQQQQ")
SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")


def stripped(data: bytes) -> bytes:
    """`data` (an ELF file) without `.symtab`, its string table and `.debug*` sections;
    `data` itself when there is nothing to drop or the layout is not one handled here."""
    if not data.startswith(ELF64_LITTLE) or len(data) < HEADER.size:
        return data
    header = list(HEADER.unpack_from(data))
    phoff, shoff = header[5], header[6]
    phentsize, phnum, shentsize, shnum, shstrndx = header[9:14]
    if (
        shnum == 0
        or shnum >= 0xFF00
        or shstrndx >= shnum
        or shentsize != SECTION_HEADER.size
        or phentsize != PROGRAM_HEADER.size
        or shoff + shnum * shentsize > len(data)
    ):
        return data
    sections = [
        list(SECTION_HEADER.unpack_from(data, shoff + i * shentsize))
        for i in range(shnum)
    ]
    drop = _droppable(data, sections, shstrndx)
    if not drop:
        return data
    loaded_end = max(
        [phoff + phnum * phentsize]
        + [
            program[2] + program[5]
            for program in (
                PROGRAM_HEADER.unpack_from(data, phoff + i * phentsize)
                for i in range(phnum)
            )
        ]
    )
    if not _layout_allows(sections, drop, loaded_end):
        return data
    return _rewrite(data, header, sections, drop, loaded_end)


def _section_name(
    data: bytes, sections: list[list[int]], shstrndx: int, index: int
) -> str:
    start = sections[shstrndx][4] + sections[index][0]
    end = data.find(b"\0", start)
    return data[start:end].decode("ascii", "replace") if end >= 0 else ""


def _droppable(data: bytes, sections: list[list[int]], shstrndx: int) -> set[int]:
    """The indices of `.symtab`, the string table it links to and `.debug*` sections,
    all of them never loaded (no SHF_ALLOC)."""
    drop: set[int] = set()
    for index in range(1, len(sections)):
        name = _section_name(data, sections, shstrndx, index)
        if name == ".symtab":
            drop.add(index)
            linked = sections[index][6]
            if 0 < linked < len(sections) and linked != shstrndx:
                drop.add(linked)
        elif name.startswith((".debug", ".zdebug")):
            drop.add(index)
    if any(sections[index][2] & SHF_ALLOC for index in drop):
        return set()
    return drop


def _layout_allows(sections: list[list[int]], drop: set[int], loaded_end: int) -> bool:
    """Whether dropping keeps every other section's index and meaning: the dropped ones
    come after every loaded section (so `.dynsym`'s section indices stay right) and lie
    past the loaded bytes, and no kept section points at one of them."""
    last_loaded = max(
        (i for i, section in enumerate(sections) if section[2] & SHF_ALLOC), default=0
    )
    if min(drop) <= last_loaded:
        return False
    for index, section in enumerate(sections):
        offset, size = section[4], section[5]
        has_bytes = section[1] != SHT_NOBITS and size > 0
        if index in drop:
            if has_bytes and offset < loaded_end:
                return False
            continue
        if section[6] in drop or (_info_is_index(section) and section[7] in drop):
            return False
        if has_bytes and offset < loaded_end < offset + size:
            return False  # straddles the loaded bytes: neither kept in place nor moved
        if section[2] & SHF_ALLOC and has_bytes and offset + size > loaded_end:
            return False
    return True


def _info_is_index(section: list[int]) -> bool:
    return section[1] in (SHT_REL, SHT_RELA) or bool(section[2] & SHF_INFO_LINK)


def _rewrite(
    data: bytes,
    header: list[int],
    sections: list[list[int]],
    drop: set[int],
    loaded_end: int,
) -> bytes:
    """The loaded bytes as they are, then the kept sections that followed them, then a
    section header table without the dropped sections."""
    kept = [i for i in range(len(sections)) if i not in drop]
    new_index = {old: new for new, old in enumerate(kept)}
    out = bytearray(data[:loaded_end])
    table: list[list[int]] = []
    for old in kept:
        section = list(sections[old])
        offset, size = section[4], section[5]
        if old != 0 and section[1] != SHT_NOBITS and offset >= loaded_end:
            alignment = max(section[8], 1)
            out.extend(b"\0" * (-len(out) % alignment))
            section[4] = len(out)
            out.extend(data[offset : offset + size])
        elif old != 0 and offset >= loaded_end:
            section[4] = len(out)  # NOBITS past the loaded bytes: no bytes to move
        section[6] = new_index.get(section[6], 0)
        if _info_is_index(section):
            section[7] = new_index.get(section[7], 0)
        table.append(section)
    out.extend(b"\0" * (-len(out) % 8))
    header[6] = len(out)
    header[12] = len(kept)
    header[13] = new_index[header[13]]
    for section in table:
        out.extend(SECTION_HEADER.pack(*section))
    HEADER.pack_into(out, 0, *header)
    return bytes(out)
