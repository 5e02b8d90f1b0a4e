"""`sim run`'s text table (sim/output.text_table): one header and one line per op row,
every column right-aligned to one width, and each cell reads back as the row's value."""

from __future__ import annotations

from sim import simulate
from sim.output import TABLE_COLUMNS, text_table


def test_text_table_cells_read_back_aligned():
    res = simulate("int8-systolic", "smollm2-135m", prefill=16, decode=2)
    lines = text_table(res).splitlines()
    assert len(lines) == 1 + len(res.rows)
    assert lines[0].split() == TABLE_COLUMNS
    assert len({len(line) for line in lines}) == 1  # every line as wide: aligned columns
    # each column ends at the same position on every line (right-justified)
    ends = [lines[0].index(c) + len(c) for c in TABLE_COLUMNS[:-1]]
    for row, line in zip(res.rows, lines[1:]):
        for e in ends:
            assert line[e - 1] != " " and (e == len(line) or line[e] == " ")
        cells = line.split()
        assert cells[:6] == [
            row.phase,
            row.name,
            str(row.M),
            str(row.K),
            str(row.N),
            str(row.count),
        ]
        assert float(cells[6]) == float(f"{row.time_s:.4g}")
        assert cells[7] == row.bound and cells[8] == f"{row.utilization:.1%}"
        energy = row.energy_compute_j + row.energy_sram_j + row.energy_dram_j
        assert float(cells[9]) == float(f"{energy:.3g}")
        assert (cells[10] if len(cells) > 10 else "") == row.mapping
