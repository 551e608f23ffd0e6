"""Print what a table holds before you compute anything from it.

Usage: python scripts/inspect_table.py FILE [--sheet NAME] [--rows N]

Shows the sheet names (workbooks), the first rows exactly as stored (no header guessing), and the
type pandas infers for each column when the first row is taken as the header.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--sheet", default=None, help="Sheet name (workbooks; default: the first sheet).")
    parser.add_argument("--rows", type=int, default=8, help="How many raw rows to print.")
    args = parser.parse_args()

    if args.file.lower().endswith((".xlsx", ".xlsm", ".xls")):
        book = pd.ExcelFile(args.file)
        print("sheets:", ", ".join(book.sheet_names))
        sheet = args.sheet or book.sheet_names[0]
        raw = pd.read_excel(book, sheet_name=sheet, header=None, nrows=args.rows)
        typed = pd.read_excel(book, sheet_name=sheet)
    else:
        raw = pd.read_csv(args.file, header=None, nrows=args.rows, dtype=str)
        typed = pd.read_csv(args.file)

    print(f"first {len(raw)} rows as stored:")
    print(raw.to_string(index=False, header=False))
    print("\ncolumn types with row 1 as the header:")
    print(typed.dtypes.to_string())
    print(f"\n{len(typed)} data rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
