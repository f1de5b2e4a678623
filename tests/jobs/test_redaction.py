"""Masking secret values out of output lines."""

from apps.jobs.redaction import MASK, Masker


def test_masks_every_occurrence():
    masker = Masker(["s3cr3t-pw"])

    assert masker.mask("a s3cr3t-pw b s3cr3t-pw") == f"a {MASK} b {MASK}"


def test_longest_secret_wins_when_one_contains_another():
    masker = Masker(["abcd", "abcd-efgh-ijkl"])

    assert masker.mask("x abcd-efgh-ijkl y abcd") == f"x {MASK} y {MASK}"
    assert "efgh" not in masker.mask("abcd-efgh-ijkl")


def test_each_line_of_a_multi_line_secret_is_masked_on_its_own():
    key = "-----BEGIN KEY-----\r\nAAAABBBBCCCC\r\n-----END KEY-----"
    masker = Masker([key])

    assert masker.mask("AAAABBBBCCCC") == MASK
    assert masker.mask("  -----END KEY-----") == f"  {MASK}"
    assert masker.mask(key) == MASK


def test_shell_quoted_url_encoded_and_json_escaped_forms_are_masked():
    secret = "it's a p@ss/word\n2"
    masker = Masker([secret])

    assert masker.mask("""+ curl -u admin:'it'"'"'s a p@ss/word\n2'""").count("p@ss") == 0
    assert masker.mask("https://h/?pw=it%27s%20a%20p%40ss%2Fword%0A2") == f"https://h/?pw={MASK}"
    assert masker.mask("pw=it%27s+a+p%40ss%2Fword%0A2") == f"pw={MASK}"
    assert masker.mask('{"pw": "it\'s a p@ss/word\\n2"}') == '{"pw": "' + MASK + '"}'


def test_values_shorter_than_four_characters_are_not_masked():
    masker = Masker(["abc", "", None, "x"])

    assert not masker
    assert masker.mask("abc x") == "abc x"


def test_regex_characters_in_secrets_are_literal():
    masker = Masker(["a.b*c+d"])

    assert masker.mask("a.b*c+d and aXbbbcd") == f"{MASK} and aXbbbcd"
