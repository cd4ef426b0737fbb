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
    "$PYBABEL" update -i "$POT" -d playground/locale -l "$lang" --no-fuzzy-matching --ignore-obsolete
  else
    "$PYBABEL" init -i "$POT" -d playground/locale -l "$lang"
  fi
done
"$PYBABEL" compile -d playground/locale --statistics
