// Built-in chat formats for models that carry no template of their own, each written as a Jinja
// template so that it renders (and splits into template/content segments) exactly like a model's
// own would. Following node-llama-cpp, a model's own template is replaced by a built-in only when
// the two render identically (see resolve.ts).
import { JinjaChatTemplate } from './template.js';

export type BuiltinChatFormat = 'llama-2' | 'llama-3' | 'chatml' | 'mistral' | 'zephyr' | 'plain';

/** Jinja source of each format, and text that ends an assistant turn besides the end tokens. */
const FORMATS: Record<BuiltinChatFormat, { source: string; stop: string[] }> = {
  // Llama 2 chat (Meta's generation.py chat_completion): <<SYS>> folded into the first [INST]
  'llama-2': {
    source:
      "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
      "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
      "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}" +
      "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
    stop: [],
  },
  // Llama 3 (Meta's ChatFormat): header ids, stripped content, <|eot_id|>
  'llama-3': {
    source:
      "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}" +
      "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    stop: [],
  },
  chatml: {
    source: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    stop: ['<|im_end|>'],
  },
  // Mistral Instruct v0.1/v0.2: the system prompt opens the first [INST]
  mistral: {
    source:
      "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}" +
      "{{- bos_token }}{%- for message in loop_messages %}{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif %}" +
      "{%- if message['role'] == 'user' %}{%- if loop.first and system_message is defined %}{{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}{%- else %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}{%- endif %}" +
      "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token}}{%- else %}{{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}{%- endif %}{%- endfor %}",
    stop: [],
  },
  // Zephyr / TinyLlama chat
  zephyr: {
    source:
      "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n" +
      "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
    stop: [],
  },
  // Base models (no chat training): a transcript the model can continue; a new "User:" line ends the turn
  plain: {
    source:
      "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}{% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n' }}" +
      "{% else %}{{ 'Assistant: ' + message['content'] + '\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
    stop: ['\nUser:', '\nAssistant:'],
  },
};

export const BUILTIN_CHAT_FORMATS = Object.keys(FORMATS) as BuiltinChatFormat[];

export function isBuiltinChatFormat(name: string): name is BuiltinChatFormat {
  return name in FORMATS;
}

/** A built-in format as a template; `stop` lists text that ends a reply besides end tokens. */
export function builtinChatTemplate(name: BuiltinChatFormat): JinjaChatTemplate & { readonly stop: readonly string[] } {
  const f = FORMATS[name];
  return Object.assign(new JinjaChatTemplate(f.source, name), { stop: f.stop });
}
