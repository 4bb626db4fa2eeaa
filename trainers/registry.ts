import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBuiltinLogRegTrainer } from './builtin-logreg';
import { createProcessTrainer } from './process-trainer';
import type { Trainer, TrainerRegistry } from './trainer';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pythonDir = path.join(root, 'trainers', 'python');
/** Created by scripts/ensure-python-trainer. */
export const projectTrainerPython = path.join(root, '.tools', 'pyenv-trainer', 'bin', 'python');

/**
 * The trainers a training worker offers: the builtin one, the example Python
 * trainers when a Python with their packages is there, and any process
 * trainers the operator names in CTLOOP_TRAINERS. A model's policy picks one
 * by name; trainers are defined on workers, not in policies, so a policy
 * cannot make a worker run an arbitrary command.
 */
export function createTrainerRegistry(opts: {
  python?: string;
  extra?: Readonly<Record<string, readonly string[]>>;
}): { trainers: TrainerRegistry; notes: string[] } {
  const notes: string[] = [];
  const trainers: Record<string, Trainer> = { 'builtin-logreg': createBuiltinLogRegTrainer() };
  const python = opts.python ?? (existsSync(projectTrainerPython) ? projectTrainerPython : null);
  if (python) {
    for (const [name, script] of [
      ['python-numpy', 'numpy_trainer.py'],
      ['python-torch', 'torch_trainer.py'],
    ] as const) {
      trainers[name] = createProcessTrainer({
        name,
        command: [python, path.join(pythonDir, script)],
        cwd: pythonDir,
      });
    }
  } else {
    notes.push(
      'no trainer Python (run scripts/ensure-python-trainer or set CTLOOP_TRAINER_PYTHON): python trainers off',
    );
  }
  for (const [name, command] of Object.entries(opts.extra ?? {})) {
    trainers[name] = createProcessTrainer({ name, command });
  }
  return { trainers, notes };
}
