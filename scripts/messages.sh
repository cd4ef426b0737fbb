#!/usr/bin/env bash
# Extract every message of the dashboard, merge it into both catalogs and compile them.
# Run after changing a sentence in the code or a translation in a .po file; commit the .po and .mo.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
POT=playground/locale/messages.pot
"$PYBABEL" extract -F babel.cfg -o "$POT" --no-location --sort-output --project="GAN Playground" \
  -k t -k tn:1,2 -k tr -k trn:1,2 -k tx -k txn:1,2 -k msg -k N_ -c "Translators:" .
for lang in pt en; do
  if [ -f "playground/locale/$lang/LC_MESSAGES/messages.po" ]; then
    "$PYBABEL" update -i "$POT" -d playground/locale -l "$lang" --no-fuzzy-matching --ignore-obsolete \
      --width 100
  else
    "$PYBABEL" init -i "$POT" -d playground/locale -l "$lang"
  fi
done
# English is the source language: its catalog repeats each message id (a reviewer may refine it).
"${PYTHON:-.venv/bin/python}" - <<'PY'
from babel.messages.pofile import read_po, write_po
path = "playground/locale/en/LC_MESSAGES/messages.po"
with open(path, "rb") as f:
    cat = read_po(f, locale="en")
for m in cat:
    if m.id and not any(m.string if isinstance(m.string, tuple) else [m.string]):
        m.string = tuple(m.id) if isinstance(m.id, tuple) else m.id
with open(path, "wb") as f:
    write_po(f, cat, omit_header=False, no_location=True, sort_output=True, width=100)
PY
"$PYBABEL" compile -d playground/locale --statistics
# The pretrained runs' names and data notes (no code holds them): new ones are added to
# pretrained.po, to be translated there by hand.
"${PYTHON:-.venv/bin/python}" scripts/pretrained_messages.py
"$PYBABEL" compile -d playground/locale -D pretrained --statistics
