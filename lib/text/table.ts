/**
 * Column-aligned text tables, as `lsof` and `ps` print them: a header line, one
 * space between columns, text left-aligned and numbers right-aligned, and the
 * last column never padded (it may hold spaces, like a path).
 *
 * @module
 */

/** One column of a table. */
export interface Column {
  header: string;
  /** `right` for numbers; `left` by default. */
  align?: "left" | "right";
}

/**
 * The lines of a table (header first, no trailing newlines).
 *
 * @example
 * ```ts
 * tableLines([{ header: "PID", align: "right" }, { header: "NAME" }], [["7", "a b"]]);
 * // ["PID NAME", "  7 a b"]
 * ```
 */
export function tableLines(columns: Column[], rows: string[][]): string[] {
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => (row[i] ?? "").length))
  );
  const line = (cells: string[]) =>
    columns.map((column, i) => {
      const cell = cells[i] ?? "";
      if (i === columns.length - 1) return cell;
      return column.align === "right" ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
    }).join(" ").trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)];
}
