// Bundle entry: run the action and set the exit status (the runner runs `node action/dist/index.cjs` from its checkout).
import { main } from './main.js';

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stdout.write(
      `::error title=seal::${String((err as Error)?.message ?? err).replace(/\n/g, '%0A')}\n`,
    );
    process.exitCode = 1;
  },
);
