// chevrotain, loaded from its single-file bundle. The package entry point imports about 600
// lodash-es modules (about 1 s at every `vplc` start, 4 s under tsx); the bundle that ships in
// the same package loads in well under 100 ms. Types still come from the package.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type * as Chevrotain from 'chevrotain';

const entry = createRequire(import.meta.url).resolve('chevrotain'); // <package>/lib/src/api.js
const chevrotain = (await import(new URL('../chevrotain.mjs', pathToFileURL(entry)).href)) as typeof Chevrotain;

export const { createToken, EmbeddedActionsParser, EOF, Lexer, tokenMatcher } = chevrotain;
export type { IOrAlt, IToken, OrMethodOpts, ParserMethod, TokenType } from 'chevrotain';
