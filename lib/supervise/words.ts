/**
 * The control words `opsd up|down|once|restart|pause|cont|hup|alarm|interrupt|
 * term|kill|exit` and their daemontools `svc` letters: one table shared by the
 * commands, the control protocol and the supervisor.
 *
 * @module
 */

/** What a control word does to a service. */
export interface ControlWordSpec {
  /** The `opsd svc` letter (daemontools' svc), or null when svc has none. */
  letter: string | null;
  /** The signal sent to the service's main process, for the signal words. */
  signal: string | null;
  /** One line for --help and the README. */
  help: string;
}

/** Every control word, in svc's order. */
export const CONTROL_WORDS = {
  up: { letter: "u", signal: null, help: "start it, and restart it whenever it exits" },
  down: {
    letter: "d",
    signal: null,
    help: "stop it (stop signal + CONT to its group, KILL after the stop timeout)",
  },
  once: { letter: "o", signal: null, help: "start it if it is down, but do not restart it" },
  restart: {
    letter: null,
    signal: null,
    help: "stop it as down does, then start it at once (a once service, even one that ended, " +
      "runs once more)",
  },
  pause: { letter: "p", signal: "SIGSTOP", help: "send STOP to its main process" },
  cont: { letter: "c", signal: "SIGCONT", help: "send CONT to its main process" },
  hup: { letter: "h", signal: "SIGHUP", help: "send HUP to its main process" },
  alarm: { letter: "a", signal: "SIGALRM", help: "send ALRM to its main process" },
  interrupt: { letter: "i", signal: "SIGINT", help: "send INT to its main process" },
  term: { letter: "t", signal: "SIGTERM", help: "send TERM to its main process" },
  kill: { letter: "k", signal: "SIGKILL", help: "send KILL to its main process" },
  exit: {
    letter: "x",
    signal: null,
    help: "take it and its log service down, then end the supervisor (refused for a log/ " +
      "service: it would end the main service too)",
  },
} as const satisfies Record<string, ControlWordSpec>;

/** One of the control words. */
export type ControlWord = keyof typeof CONTROL_WORDS;

/** Whether `text` is a control word. */
export function isControlWord(text: string): text is ControlWord {
  return Object.hasOwn(CONTROL_WORDS, text);
}

/**
 * What a word did that its acknowledged status may not show yet — the signal
 * is sent but the process has not acted on it, the supervisor is about to end —
 * (`sent KILL`, `supervisor exiting`); null for the words whose status shows it.
 */
export function wordDone(word: ControlWord): string | null {
  const { signal } = CONTROL_WORDS[word];
  if (signal) return `sent ${signal.slice(3)}`;
  return word === "exit" ? "supervisor exiting" : null;
}

/** The control word for an `opsd svc` letter, or null for a letter svc does not have. */
export function wordForLetter(letter: string): ControlWord | null {
  for (const [word, spec] of Object.entries(CONTROL_WORDS)) {
    if (spec.letter === letter) return word as ControlWord;
  }
  return null;
}
