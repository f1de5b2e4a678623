"""Masking job output a block at a time, and very long lines cut where no secret is split
(apps.jobs.redaction, apps.jobs.executors.output.LineSplitter)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.jobs.executors.output import READ_LIMIT, LineSplitter
from apps.jobs.redaction import MASK, Masker

SECRET = "s3cr3t-T0ken-value"
KEY = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----"

text = st.text(alphabet=st.sampled_from("ab\r\t-\\é" + "s3cr3t-T0ken"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(text, min_size=1, max_size=8), secrets=st.lists(text, max_size=3))
def test_masking_a_block_is_masking_each_line(lines, secrets):
    masker = Masker([*secrets, SECRET, KEY])

    assert masker.mask_lines("\n".join(lines)).split("\n") == [masker.mask(line) for line in lines]


def feed_in_pieces(splitter: LineSplitter, data: str, size: int) -> list[str]:
    out: list[str] = []
    for start in range(0, len(data), size):
        out += splitter.feed(data[start : start + size])
    return out + splitter.finish()


def test_a_secret_across_the_cut_of_a_very_long_line_is_masked():
    masker = Masker([SECRET])
    for offset in range(-len(SECRET), 2):  # the secret ends at, spans, or starts at the cut
        line = "x" * (READ_LIMIT + offset) + SECRET + "y" * 100
        for size in (1000, 8192, READ_LIMIT * 2):
            pieces = feed_in_pieces(LineSplitter(masker), line + "\nnext\n", size)

            assert pieces[-1] == "next"
            assert all(len(piece) <= READ_LIMIT for piece in pieces)
            joined = "".join(pieces[:-1])
            assert SECRET not in joined and "s3cr3t" not in joined
            assert joined == "x" * (READ_LIMIT + offset) + MASK + "y" * 100


def test_long_lines_and_line_ends_arriving_in_any_pieces():
    masker = Masker([SECRET])
    data = "a" * (2 * READ_LIMIT) + "\n" + "one\r\n" + f"token {SECRET} end\n" + "\n" + "tail without newline"
    expected_long = ["a" * READ_LIMIT, "a" * READ_LIMIT]
    for size in (1, 7, 4096, len(data)):
        pieces = feed_in_pieces(LineSplitter(masker), data, size)
        assert pieces == [*expected_long, "one", f"token {MASK} end", "", "tail without newline"], size


def test_each_line_of_a_multi_line_secret_is_masked_when_printed_in_pieces():
    masker = Masker([KEY])
    printed = "before\n" + KEY + "\nafter\n"

    for size in (1, 5, 64):
        assert feed_in_pieces(LineSplitter(masker), printed, size) == ["before", MASK, MASK, MASK, "after"]
