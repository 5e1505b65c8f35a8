/**
 * Runs before every test file. vitest awaits a synchronous test without leaving the current
 * macrotask, so a file of many synchronous tests (the forward-pass files run for a minute on a
 * 2-core AVX2 machine) could hold the event loop past the 60 s timeout of the worker's progress RPC
 * and fail the run with "Timeout calling onTaskUpdate" although every test passed. One turn of
 * the event loop after each test lets the RPC's reply in.
 */
import { afterEach } from 'vitest';
import { yieldToEventLoop } from './yield.js';

afterEach(yieldToEventLoop);
