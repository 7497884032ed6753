import pytest

from models.phones import normalize_phone


@pytest.mark.parametrize("raw, expected", [
    ("13812345678", "+8613812345678"),
    ("138-1234-5678", "+8613812345678"),
    ("+86 138 1234 5678", "+8613812345678"),
    ("008613812345678", "+8613812345678"),
    ("8613812345678", "+8613812345678"),
    ("021-62345678", "+862162345678"),
    ("(0755) 2654 3210", "+8675526543210"),
    ("010-12345678 转 8001", "+861012345678"),
    ("", None), (None, None), ("anonymous", None), ("123", None),
])
def test_normalize(raw, expected):
    assert normalize_phone(raw) == expected


def test_a_switchboard_extension_after_a_hyphen_is_dropped():
    assert normalize_phone("021-62345678-8001") == "+862162345678"
    assert normalize_phone("(0573) 8765 4321 - 12") == "+8657387654321"
