/**
 * The store's Lua scripts. Each runs atomically on the Redis server, so "check the owner, then
 * change the key" can never interleave with another client's claim. Layout of one key
 * (`<prefix>:idem:<key>`, a hash whose TTL is the lease or the done mark's TTL):
 *
 *   state   'claimed' | 'done'
 *   token   the owner token of the claim (kept on the done mark)
 *   result  the cached result; absent when complete() was given none
 *
 * A lapsed lease or done mark is simply an expired key, so a claim on it is a claim on a free key:
 * take-over needs no extra step.
 */
import { createHash } from 'node:crypto';

export interface Script {
  readonly source: string;
  readonly sha1: string;
}

function script(source: string): Script {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

/** ARGV: token, leaseMs → {status, hasResult, result} */
export const CLAIM = script(`
local current = redis.call('HMGET', KEYS[1], 'state', 'result')
if current[1] == 'done' then
  if current[2] then return {'done', 1, current[2]} end
  return {'done', 0, ''}
end
if current[1] then return {'busy', 0, ''} end
redis.call('HSET', KEYS[1], 'state', 'claimed', 'token', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'claimed', 0, ''}
`);

/**
 * ARGV: token, ttlMs, hasResult ('1' | '0'), result → 1 | 0. A repeat by the owner that made the
 * done mark returns 1 and only fills in a missing result (its TTL stays).
 */
export const COMPLETE = script(`
local current = redis.call('HMGET', KEYS[1], 'state', 'token')
if current[2] ~= ARGV[1] then return 0 end
if current[1] == 'claimed' then
  redis.call('HSET', KEYS[1], 'state', 'done')
  if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'result', ARGV[4]) end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current[1] == 'done' then
  if ARGV[3] == '1' then redis.call('HSETNX', KEYS[1], 'result', ARGV[4]) end
  return 1
end
return 0
`);

/** ARGV: token → 1 | 0. Compare-and-delete: only the live claim's owner frees the key; a done mark stays. */
export const RELEASE = script(`
local current = redis.call('HMGET', KEYS[1], 'state', 'token')
if current[1] == 'claimed' and current[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`);

/** ARGV: token, leaseMs → 1 | 0. Renews the lease to leaseMs from now. */
export const EXTEND = script(`
local current = redis.call('HMGET', KEYS[1], 'state', 'token')
if current[1] == 'claimed' and current[2] == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`);
