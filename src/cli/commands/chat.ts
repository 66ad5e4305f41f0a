// `llama chat`: a conversation with a model. On a terminal: streaming replies, multi-line input,
// slash commands, Ctrl-C stops the current reply (a second Ctrl-C at the prompt exits), tokens/s
// after each reply. From a pipe: one user turn per line, each reply on stdout followed by a
// newline, nothing else on stdout (status and statistics go to stderr). A thin consumer of the
// engine API (openModel + ChatSession).
import { createInterface } from 'node:readline';
import type { Command } from '../command.js';
import { num, str } from '../args.js';
import { ENGINE_OPTIONS, checkEngineArgs, openModelFromArgs } from '../model-args.js';
import { onStdoutClosed, stdoutClosed, writeOut } from '../output.js';
import { CHAT_HELP, TurnAssembler, messageText, parseCommand } from '../chat-input.js';
import { FLAG_NAMES, SAMPLING_FLAGS, STRUCTURED_FLAGS, chooseSeed, grammarFromArgs, samplingFromArgs } from '../sampling-args.js';
import { LlamaError, UsageError, formatError, generation, type ChatSession, type CompleteOptions, type Model } from '../../index.js';
const { validateGenerateOptions } = generation;

const DEFAULT_MAX_TOKENS = 256;

export const command: Command = {
  spec: {
    name: 'chat',
    summary: 'chat with a model (interactive on a terminal, one turn per line from a pipe)',
    usage: '[-m PATH] [--system TEXT] [--chat-template NAME] [-n N] [--temp T] [--seed S] ...',
    options: {
      ...ENGINE_OPTIONS,
      system: { kind: 'string', arg: 'TEXT', once: true, help: 'the system prompt' },
      'n-predict': { kind: 'int', short: 'n', arg: 'N', help: `tokens per reply at most; -1 = until an end token (default: ${DEFAULT_MAX_TOKENS})` },
      ...SAMPLING_FLAGS,
      ...STRUCTURED_FLAGS,
    },
    details: [
      'On a terminal:',
      '  type a message and press Enter; end a line with \\ to continue it, or put """ on its own line',
      '  to open and close a multi-line block. Ctrl-C stops the current reply; Ctrl-C at an empty',
      '  prompt twice (or Ctrl-D, or /exit) leaves.',
      '',
      CHAT_HELP,
      '',
      'From a pipe: every line is one user turn; every reply is printed on stdout followed by a newline.',
      '  printf "Hello\\nTell me a story\\n" | llama chat --temp 0',
      '',
      'When the context fills up, the oldest turns after the system prompt are dropped (a context shift).',
    ].join('\n'),
  },

  async run(args) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument '${args.positionals[0]}'`, 'chat reads its messages from the terminal or standard input');
    const nPredict = num(args, 'n-predict');
    if (nPredict !== undefined && nPredict < -1) throw new UsageError(`-n must be -1 or more, got ${nPredict}`);
    const seed = chooseSeed(args);
    const sampling = samplingFromArgs(args, seed);
    const ctxArg = num(args, 'ctx-size');
    validateGenerateOptions({ ...sampling, ...(ctxArg !== undefined ? { ctxSize: ctxArg } : {}) }, FLAG_NAMES);
    const grammar = grammarFromArgs(args);
    checkEngineArgs(args); // before the model loads: a typo fails fast, with nothing on stdout
    const { model, path } = await openModelFromArgs(args, { chat: true }); // without -m: the shipped chat model
    try {
      const defaults: CompleteOptions = {
        ...sampling,
        ...(nPredict === -1 ? {} : { maxTokens: nPredict ?? DEFAULT_MAX_TOKENS }),
        ...(grammar !== undefined ? { grammar } : {}),
      };
      const system = str(args, 'system');
      const chat = model.createChat({ ...(system !== undefined ? { system } : {}), defaults });
      const tty = process.stdin.isTTY === true;
      process.stderr.write(`chat: ${path} (${model.format}, ${model.backendName} backend, ${model.chatTemplate.name} template), seed ${seed}\n`);
      return tty ? await interactive(model, chat) : await piped(chat);
    } finally {
      await model.dispose();
    }
  },
};

/** Stream one reply to stdout; returns false when stdout's reader has gone away. */
async function reply(chat: ChatSession, text: string, signal: AbortSignal): Promise<{ ok: boolean; error?: unknown }> {
  const gen = chat.send(text, { signal });
  let started = false;
  let cancelled = false;
  // whitespace is held back until more text follows: the format's padding before the end of a turn
  // (llama-2's " </s>") is not part of the reply
  let held = '';
  try {
    for await (const t of gen) {
      // the format puts a space or newline before the reply ("Assistant: ..."); do not print it
      const out = held + (started ? t.text : t.text.replace(/^\s+/, ''));
      if (out) started = true;
      const body = out.replace(/\s+$/, '');
      held = out.slice(body.length);
      writeOut(body);
    }
  } catch (e) {
    if (!(e instanceof LlamaError && e.code === 'CANCELLED')) {
      writeOut(started ? '\n' : '');
      return { ok: false, error: e };
    }
    cancelled = true;
  }
  writeOut('\n');
  const s = gen.stats;
  if (s) {
    process.stderr.write(`[${s.generatedTokens} token${s.generatedTokens === 1 ? '' : 's'}, ${s.generatedTokensPerSec.toFixed(1)} tok/s; prompt ${s.promptTokens} new token${s.promptTokens === 1 ? '' : 's'}, ${s.promptTokensPerSec.toFixed(1)} tok/s${cancelled ? '; stopped' : ''}]\n`);
  }
  return { ok: true };
}

/** Run a slash command; returns true to leave. Messages go to stderr. */
function runCommand(chat: ChatSession, turn: string): boolean | undefined {
  const c = parseCommand(turn);
  if (c === undefined) return undefined;
  const say = (s: string) => process.stderr.write(s + '\n');
  try {
    switch (c.kind) {
      case 'help':
        say(CHAT_HELP);
        break;
      case 'reset':
        chat.reset();
        say('(conversation forgotten)');
        break;
      case 'exit':
        return true;
      case 'system':
        chat.setSystem(c.text);
        say(c.text ? '(system prompt set)' : '(system prompt removed)');
        break;
      case 'save':
        chat.save(c.file);
        say(`(saved ${chat.messages.length} messages to ${c.file})`);
        break;
      case 'load':
        chat.load(c.file);
        say(`(loaded ${chat.messages.length} messages from ${c.file})`);
        break;
      case 'missing':
        say(`/${c.name} needs a file name`);
        break;
      case 'unknown':
        say(`unknown command /${c.name}; /help lists them (start a message with // to send a literal /)`);
        break;
    }
  } catch (e) {
    say(formatError(e));
  }
  return false;
}

/** No terminal: one turn per line, replies on stdout. An error ends the run with its status. */
async function piped(chat: ChatSession): Promise<number> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const unsubscribe = onStdoutClosed(() => ac.abort());
  const rl = createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity });
  const input = new TurnAssembler();
  try {
    const handle = async (turn: string | undefined): Promise<number | undefined> => {
      if (turn === undefined || turn.trim() === '') return undefined;
      const cmd = runCommand(chat, turn);
      if (cmd === true) return 0;
      if (cmd === false) return undefined;
      const r = await reply(chat, messageText(turn), ac.signal);
      if (r.error !== undefined) throw r.error;
      if (ac.signal.aborted) return stdoutClosed() ? 0 : 130;
      return undefined;
    };
    for await (const line of rl) {
      const status = await handle(input.push(line));
      if (status !== undefined) return status;
    }
    return (await handle(input.flush())) ?? 0;
  } finally {
    rl.close();
    process.removeListener('SIGINT', onSigint);
    unsubscribe();
  }
}

/** A terminal: a prompt, streaming replies, Ctrl-C handling. */
async function interactive(model: Model, chat: ChatSession): Promise<number> {
  process.stderr.write('Type a message; /help for commands, Ctrl-C stops a reply, Ctrl-C twice or Ctrl-D leaves.\n');
  // the prompt and the echo of what is typed go to the terminal; with stdout redirected
  // (`llama chat > log.txt`) they go to stderr, so that stdout holds only the replies
  const rlOut = process.stdout.isTTY ? process.stdout : process.stderr;
  const rl = createInterface({ input: process.stdin, output: rlOut, terminal: true, prompt: '> ' });
  const input = new TurnAssembler();
  let current: AbortController | undefined;
  let armed = false; // a Ctrl-C at an empty prompt was pressed: the next one leaves
  let leave = false;
  rl.on('SIGINT', () => {
    if (current) {
      current.abort();
      return;
    }
    if (rl.line.length > 0 || input.pending) {
      // clear what was typed, as a shell does
      input.clear();
      rl.write(null, { ctrl: true, name: 'u' });
      rlOut.write('^C\n');
      armed = false;
      rl.setPrompt('> ');
      rl.prompt();
      return;
    }
    if (armed) {
      leave = true;
      rlOut.write('\n');
      rl.close();
      return;
    }
    armed = true;
    rlOut.write('^C\n');
    process.stderr.write('(press Ctrl-C again to leave, or type /exit)\n');
    rl.prompt();
  });
  rl.prompt();
  try {
    for await (const line of rl) {
      armed = false;
      const turn = input.push(line);
      if (turn === undefined) {
        rl.setPrompt('. ');
        rl.prompt();
        continue;
      }
      rl.setPrompt('> ');
      if (turn.trim() !== '') {
        const cmd = runCommand(chat, turn);
        if (cmd === true) break;
        if (cmd === undefined) {
          current = new AbortController();
          const r = await reply(chat, messageText(turn), current.signal);
          current = undefined;
          if (r.error !== undefined) process.stderr.write(formatError(r.error) + '\n');
        }
      }
      if (leave) break;
      rl.prompt();
    }
  } finally {
    rl.close();
  }
  void model;
  return 0;
}
