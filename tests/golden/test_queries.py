"""Where each query reads the stream: pools continue and refresh every ``refresh`` queries, other
sources reseed every query with the seed of (step, query)."""

import pytest

from zoforge.golden import parse
from zoforge.golden.queries import lfsr_seed, query_position, query_seed


def test_a_pool_never_refreshed_continues_where_the_last_query_stopped():
    spec, n = parse("pezo:reuse=pool,pool=256,lanes=8"), 600
    positions = [query_position(spec, j, n, run_seed=5) for j in range(6)]
    assert positions == [(None, j * n % 256) for j in range(6)]
    starts = {query_position(spec, j, n, 5)[1] for j in range(64)}
    assert len(starts) == 256 // 8                                      # gcd(600, 256) = 8: every row comes round


def test_a_refreshed_pool_gets_a_new_seed_every_refresh_queries():
    spec, n = parse("pezo:reuse=pool,pool=256,lanes=8,refresh=3"), 600
    positions = [query_position(spec, j, n, run_seed=5) for j in range(7)]
    seeds = [seed for seed, _ in positions]
    assert seeds[0] == seeds[1] == seeds[2] != seeds[3] == seeds[4] == seeds[5] != seeds[6]
    assert seeds[3] == lfsr_seed(spec, query_seed(5, 1, 0)) and 0 < seeds[3] < 2 ** 32
    assert [start for _, start in positions] == [(j % 3) * n % 256 for j in range(7)]
    assert query_position(spec, 3, n, run_seed=6)[0] != seeds[3]      # the run seed matters


@pytest.mark.parametrize("text", ["pezo-rotate", "pezo-uniform", "gaussian:method=clt,n=4,lanes=8,bits=16",
                                  "uniform:bits=12,lanes=3,width=20"])
def test_other_sources_reseed_every_query_from_its_step_and_index(text):
    spec = parse(text)
    for queries in (1, 3):
        for index in range(7):
            step, i = divmod(index, queries)
            assert query_position(spec, index, 64, 9, queries) == (lfsr_seed(spec, query_seed(9, step, i)), 0)


def test_lfsr_seeds_fit_the_width_and_are_never_zero():
    spec = parse("uniform:bits=12,lanes=3,width=20")
    assert lfsr_seed(spec, (1 << 40) + 77) == 77 and lfsr_seed(spec, 1 << 20) == 1
    assert lfsr_seed(parse("pezo-pool"), (1 << 40) + 77) == 77


def test_bad_arguments():
    with pytest.raises(ValueError, match="stream_length=0"):
        query_position(parse("pezo-pool"), 0, 0, 1)
