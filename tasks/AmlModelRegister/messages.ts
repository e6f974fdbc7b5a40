/** This task's messages (task.json `messages`); shared ones are in common/messages. */
import { messages } from './task.json';
import { catalogue } from '../common/loc';

export const msg = catalogue(messages);
