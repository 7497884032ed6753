"""Where the tests find the repository and their fixtures."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
FIXTURES = TESTS / "fixtures"
ASTERISK = FIXTURES / "asterisk"
