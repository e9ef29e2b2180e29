"""elf_symbols: a real library loses its symbol tables, keeps every loaded byte, and
still loads; a layout it does not handle is left as it was."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from nb2prod.generate.runtime import elf_symbols

SITE = Path(sysconfig.get_path("purelib"))


def library() -> Path:
    """PyYAML's C extension: unstripped in its wheel (about 2 MB of symbols)."""
    found = sorted(SITE.glob("yaml/_yaml*.so"))
    if not found:
        pytest.skip("PyYAML's C extension is not installed")
    return found[0]


def section_names(data: bytes) -> list[str]:
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shnum, shstrndx = struct.unpack_from("<HH", data, 0x3C)
    headers = [elf_symbols.SECTION_HEADER.unpack_from(data, shoff + 64 * i) for i in range(shnum)]
    strings = headers[shstrndx][4]
    return [data[strings + h[0] : data.index(b"\0", strings + h[0])].decode() for h in headers]


def loaded_end(data: bytes) -> int:
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phnum = struct.unpack_from("<H", data, 0x38)[0]
    return max(
        p[2] + p[5]
        for p in (
            elf_symbols.PROGRAM_HEADER.unpack_from(data, phoff + 56 * i) for i in range(phnum)
        )
    )


def test_symbols_go_and_every_loaded_byte_stays() -> None:
    data = library().read_bytes()
    assert ".symtab" in section_names(data)
    smaller = elf_symbols.stripped(data)
    assert len(smaller) < len(data)
    names = section_names(smaller)
    assert ".symtab" not in names and ".strtab" not in names
    assert {".dynsym", ".dynstr", ".text", ".shstrtab"} <= set(names)
    end = loaded_end(data)
    # the header differs only in where the section table is and how long it is
    assert smaller[:0x28] == data[:0x28] and smaller[0x30:0x3C] == data[0x30:0x3C]
    assert smaller[0x40:end] == data[0x40:end]
    assert elf_symbols.stripped(smaller) is smaller  # nothing left to drop


def test_the_stripped_library_still_loads(tmp_path: Path) -> None:
    copy = tmp_path / "yaml"
    shutil.copytree(library().parent, copy)
    target = next(copy.glob("_yaml*.so"))
    target.write_bytes(elf_symbols.stripped(target.read_bytes()))
    child = "import yaml; print(yaml.load('a: [1, 2]', Loader=yaml.CSafeLoader), yaml.__file__)"
    run = subprocess.run(
        [sys.executable, "-c", child],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    answer, source = run.stdout.split()[:-1], run.stdout.split()[-1]
    assert " ".join(answer) == "{'a': [1, 2]}"
    assert source.startswith(str(tmp_path))


def test_what_is_not_a_64_bit_little_endian_elf_file_stays_as_it_is() -> None:
    for data in (
        b"",
        b"#!/bin/sh\n",
        b"\x7fELF\x01\x01" + bytes(64),
        b"\x7fELF\x02\x02" + bytes(64),
    ):
        assert elf_symbols.stripped(data) is data


def test_a_symbol_table_marked_as_loaded_is_left_alone() -> None:
    """A layout this does not understand is never rewritten: here `.symtab` says it is
    mapped into memory (SHF_ALLOC), so dropping it could break the library."""
    data = bytearray(library().read_bytes())
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    index = section_names(bytes(data)).index(".symtab")
    flags_at = shoff + 64 * index + 8
    struct.pack_into("<Q", data, flags_at, struct.unpack_from("<Q", data, flags_at)[0] | 0x2)
    frozen = bytes(data)
    assert elf_symbols.stripped(frozen) is frozen
