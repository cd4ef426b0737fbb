"""Add every pretrained run's name and data notes (pretrained/*/config.json) to the 'pretrained'
catalogs: English as it is, Portuguese left empty for a translator (tests/test_i18n.py fails until
it is filled). Run by scripts/messages.sh before compiling."""

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent


def stored_texts() -> list[str]:
    texts = []
    for cfg in sorted((ROOT / "pretrained").glob("*/config.json")):
        doc = json.loads(cfg.read_text())
        for text in (doc.get("config", {}).get("name"), (doc.get("data") or {}).get("notes")):
            if isinstance(text, str) and text and text not in texts:
                texts.append(text)
    return texts


def main() -> int:
    texts = stored_texts()
    for lang in ("en", "pt"):
        path = ROOT / "playground" / "locale" / lang / "LC_MESSAGES" / "pretrained.po"
        with open(path, "rb") as f:
            cat = read_po(f, locale="pt_BR" if lang == "pt" else "en")
        added = [t for t in texts if t not in cat]
        for text in added:
            cat.add(text, text if lang == "en" else "")
        if added:
            with open(path, "wb") as f:
                write_po(f, cat, width=100, sort_output=True)
            print(f"{path.relative_to(ROOT)}: {len(added)} new", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
