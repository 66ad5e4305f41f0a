// Turning the lines `llama chat` reads into user turns and commands.
//   - a line ending with a backslash continues on the next line (the backslash is dropped)
//   - a line holding only """ opens a block that runs until the next line holding only """
//   - a turn starting with / is a command (/help lists them); start it with // to send a literal /
export class TurnAssembler {
  private lines: string[] = [];
  private inBlock = false;

  /** true while a turn is incomplete (the prompt shows a continuation mark) */
  get pending(): boolean {
    return this.inBlock || this.lines.length > 0;
  }

  /** Feed one line; returns the finished turn, or undefined while it goes on. */
  push(line: string): string | undefined {
    if (this.inBlock) {
      if (line.trim() === '"""') {
        this.inBlock = false;
        return this.take();
      }
      this.lines.push(line);
      return undefined;
    }
    if (line.trim() === '"""' && this.lines.length === 0) {
      this.inBlock = true;
      return undefined;
    }
    if (line.endsWith('\\')) {
      this.lines.push(line.slice(0, -1));
      return undefined;
    }
    this.lines.push(line);
    return this.take();
  }

  /** What is buffered (at end of input), or undefined when nothing is. */
  flush(): string | undefined {
    this.inBlock = false;
    return this.lines.length ? this.take() : undefined;
  }

  clear(): void {
    this.lines = [];
    this.inBlock = false;
  }

  private take(): string {
    const t = this.lines.join('\n');
    this.lines = [];
    return t;
  }
}

export type ChatCommand =
  | { kind: 'help' }
  | { kind: 'reset' }
  | { kind: 'exit' }
  | { kind: 'system'; text: string }
  | { kind: 'save'; file: string }
  | { kind: 'load'; file: string }
  | { kind: 'unknown'; name: string }
  | { kind: 'missing'; name: string };

export const CHAT_HELP = [
  'commands:',
  '  /help          this list',
  '  /reset         forget the conversation (the system prompt stays)',
  '  /system TEXT   set the system prompt (/system alone removes it)',
  '  /save FILE     save the conversation as JSON',
  '  /load FILE     load a saved conversation',
  '  /exit          leave (also Ctrl-D, or Ctrl-C twice at the prompt)',
  'input: end a line with \\ to continue it; """ on its own line opens and closes a multi-line block;',
  'start a message with // to send a literal /. Ctrl-C stops the current reply.',
].join('\n');

/** The command a turn spells, or undefined when it is a message (// unescapes to a message starting with /). */
export function parseCommand(turn: string): ChatCommand | undefined {
  if (!turn.startsWith('/') || turn.startsWith('//')) return undefined;
  const m = /^\/(\S*)\s*([\s\S]*)$/.exec(turn)!;
  const name = m[1]!;
  const rest = m[2]!.trim();
  switch (name) {
    case 'help':
      return { kind: 'help' };
    case 'reset':
    case 'clear':
      return { kind: 'reset' };
    case 'exit':
    case 'quit':
      return { kind: 'exit' };
    case 'system':
      return { kind: 'system', text: rest };
    case 'save':
    case 'load':
      return rest ? { kind: name, file: rest } : { kind: 'missing', name };
    default:
      return { kind: 'unknown', name };
  }
}

/** The message text of a turn (// at the start stands for /). */
export function messageText(turn: string): string {
  return turn.startsWith('//') ? turn.slice(1) : turn;
}
