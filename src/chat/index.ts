// Chat: templates (a model's own Jinja, or a built-in format), rendering with the template's and
// the messages' text told apart, and encoding that parses special tokens only in the former.
export { JinjaChatTemplate, foldSystem } from './template.js';
export type { ChatMessage, ChatSegment, ChatTemplate, RenderedChat, RenderOptions } from './template.js';
export { builtinChatTemplate, BUILTIN_CHAT_FORMATS, isBuiltinChatFormat } from './builtin.js';
export type { BuiltinChatFormat } from './builtin.js';
export { readChatTemplateSource, resolveChatTemplate, rendersLike, specialTokenStrings } from './resolve.js';
export type { ResolveOptions } from './resolve.js';
export { encodeChat } from './encode.js';
