#!/usr/bin/env node
import { main } from './main.js';

const code = await main(process.argv.slice(2));
// Exit explicitly: a broker client (or vitest's pool) may keep a handle open after its work is done.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
