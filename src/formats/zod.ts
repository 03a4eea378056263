// zod for the wire-format parsers: the functional build (zod/mini, tree-shakable, a fraction of the classic
// API's code to parse at start) with the English messages the classic build installs, so errors read the same.

import { en } from 'zod/locales';
import { config } from 'zod/mini';

// zod/mini installs no locale (every message would be "Invalid input"); the config is process-wide and this
// is the same one the classic build sets, so loading both is harmless.
config(en());

export * from 'zod/mini';
