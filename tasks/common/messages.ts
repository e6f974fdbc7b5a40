/** Messages of the shared core (tasks/common/messages.json); the build merges them into every task.json. */
import english from './messages.json';
import { catalogue } from './loc';

export const msg = catalogue(english);
