"""The one comparison of customer names: two names are the same company when they differ only
by character width (（）and (), ＡＢＣ and ABC, ３Ｄ and 3D), letter case or spaces.

Used by the customer form, the import and the `customers.name_key` column that both look up."""
from __future__ import annotations

import unicodedata


def name_key(name: str | None) -> str | None:
    """NFKC, case folded, every whitespace removed."""
    if name is None:
        return None
    return "".join(unicodedata.normalize("NFKC", str(name)).casefold().split())
