/**
 * A command's `--help` text: usage line, description, operands, options,
 * commands beneath, then the command's own notes (examples, exit codes), laid
 * out in two columns and wrapped at 80 characters, as getopt-style tools print it.
 *
 * @module
 */

import { type CliCommand, optionLabel, type OptionSpec } from "./spec.ts";

const _WIDTH = 80;

/** The help of `command`, named by `path` (`["opsd", "daemon"]`). */
export function renderHelp(command: CliCommand, path: string[]): string {
  const sections = [`Usage: ${path.join(" ")} ${command.usage ?? _usage(command)}`];
  sections.push(_wrap(command.description, 0));
  const operands = command.operands ?? [];
  if (operands.length > 0) {
    sections.push(
      `Arguments:\n${_columns(operands.map((operand) => [operand.name, operand.help]))}`,
    );
  }
  const options: [string, string][] = Object.entries(command.options)
    .filter(([, option]) => !option.hidden)
    .map(([key, option]) => [_optionLabel(key, option), _optionHelp(option)]);
  if (command.version !== undefined) options.push(["-V, --version", "print the version"]);
  options.push([
    command.unknownOptionsAreOperands ? "--help" : "-h, --help",
    "display help for command",
  ]);
  sections.push(`Options:\n${_columns(options)}`);
  if (command.commands?.length) {
    const rows = command.commands.map((sub): [string, string] => [sub.name, sub.summary]);
    sections.push(
      `Commands:\n${_columns(rows)}\n\n'${path.join(" ")} COMMAND --help' shows how to use one.`,
    );
  }
  return `${sections.join("\n\n")}\n${_after(command.after ?? "")}\n`;
}

/**
 * A command's notes at the width: prose lines run together into paragraphs (a
 * blank line ends one) and are wrapped; an indented table row (`  opsd x   what
 * it does`) keeps its columns, its description wrapped under itself, or on the
 * lines below when the first column leaves too little room.
 */
function _after(text: string): string {
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) out.push(_wrap(paragraph.join(" "), 0));
    paragraph = [];
  };
  for (const line of text.split("\n")) {
    if (line !== "" && !line.startsWith(" ")) {
      paragraph.push(line);
      continue;
    }
    flush();
    out.push(line.length > _WIDTH ? _tableRow(line) : line);
  }
  flush();
  return out.join("\n");
}

/** An indented row too wide for the width, its last column wrapped. */
function _tableRow(line: string): string {
  const match = /^(\s+\S.*\s{2,})(\S.*)$/.exec(line);
  if (!match) return line; // One column (a long command): left as it is.
  const [, left, right] = match;
  if (left.length > _WIDTH - 30) return `${left.trimEnd()}\n${_wrap(right, 6)}`;
  return `${left}${_wrap(right, left.length).trimStart()}`;
}

function _usage(command: CliCommand): string {
  const words = ["[options]"];
  if (command.commands?.length && !command.run) words.push("[command]");
  for (const operand of command.operands ?? []) {
    const name = `${operand.name}${operand.variadic ? "..." : ""}`;
    words.push(operand.required ? `<${name}>` : `[${name}]`);
  }
  return words.join(" ");
}

function _optionLabel(key: string, option: OptionSpec): string {
  return `${option.short ? `-${option.short}, ` : ""}${optionLabel(key, option)}`;
}

function _optionHelp(option: OptionSpec): string {
  if (option.required) return `${option.help} (required)`;
  if (option.default === undefined) return option.help;
  const shown = option.defaultText ?? JSON.stringify(option.default);
  return `${option.help} (default: ${shown})`;
}

/** Two columns, the second wrapped with a hanging indent. */
function _columns(rows: [string, string][]): string {
  const width = Math.min(Math.max(...rows.map(([left]) => left.length)) + 2, 40);
  return rows.map(([left, right]) => {
    const text = _wrap(right, 2 + width).trimStart();
    return left.length + 2 > width
      ? `  ${left}\n${" ".repeat(2 + width)}${text}`
      : `  ${left.padEnd(width)}${text}`;
  }).join("\n");
}

/**
 * `text` wrapped at the width, each line indented by `indent`; newlines are kept,
 * and a line that starts with spaces (a table) keeps its columns.
 */
function _wrap(text: string, indent: number): string {
  const pad = " ".repeat(indent);
  return text.split("\n").map((paragraph) => {
    if (paragraph.startsWith(" ")) {
      return indent === 0 && paragraph.length > _WIDTH
        ? _tableRow(paragraph)
        : `${pad}${paragraph}`;
    }
    const lines: string[] = [];
    let line = "";
    for (const word of paragraph.split(" ")) {
      if (line !== "" && indent + line.length + 1 + word.length > _WIDTH) {
        lines.push(line);
        line = word;
      } else line = line === "" ? word : `${line} ${word}`;
    }
    lines.push(line);
    return lines.map((each) => `${pad}${each}`).join("\n");
  }).join("\n");
}
