/**
 * This task's messages (task.json `messages`) and the shared core's (common/messages.json): the
 * build merges the shared ones into the shipped task.json, so tl.loc finds both.
 */
import { messages } from './task.json';
import shared from '../common/messages.json';
import { catalogue } from '../common/loc';

export const msg = catalogue({ ...shared, ...messages });
