import { describe, expect, it } from 'vitest';
import { KAFKA_URL, passwordOf, RABBITMQ_URL, runCli } from './helpers.js';

describe('switchyard health', () => {
  it.each([
    ['memory', 'memory://', 'memory'],
    ['rabbitmq', RABBITMQ_URL, 'amqp'],
    ['kafka', KAFKA_URL, 'kafka'],
  ])('%s: healthy, exit 0, capabilities listed, no password', async (_name, url, transport) => {
    const { code, stdout } = await runCli(['health', url]);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^healthy .* \\(${transport}\\)$`, 'm'));
    expect(stdout).toMatch(/^ {2}maxPayloadBytes +\d+$/m);
    if (passwordOf(url)) expect(stdout).not.toContain(`:${passwordOf(url)}@`);
  });

  it('--json: one object a script can read', async () => {
    const { code, stdout } = await runCli(['health', 'memory://', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ url: 'memory://', ok: true, transport: 'memory', capabilities: { fanOut: true } });
  });

  it('an unreachable broker is unhealthy (exit 1) and the password is never echoed', async () => {
    const url = 'amqp://ops:pa55-w0rd@127.0.0.1:1';
    const { code, stdout, stderr } = await runCli(['health', url]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^unhealthy: Cannot connect to RabbitMQ at amqp:\/\/ops:\*\*\*@127\.0\.0\.1:1/m);
    expect(stdout + stderr).not.toContain(passwordOf(url));
  });
});

describe('switchyard demo', () => {
  it('tells the order story on memory: three placed, one rejected, the malformed order dead-lettered by both consumers', async () => {
    const { code, stdout } = await runCli(['demo']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/dead letter from notifications: ord-\w+-99 — .*customerEmail/);
    expect(stdout).toMatch(/dead letter from reporting: ord-\w+-99/);
    expect(stdout).toContain('Done: 3 placed, 1 rejected by inventory, 3 notified, 3 reported, 2 dead-lettered.');
  });

  it('on RabbitMQ, given as the URL argument', async () => {
    const { code, stdout } = await runCli(['demo', RABBITMQ_URL]);
    expect(code).toBe(0);
    expect(stdout).toContain('Connecting four services to amqp://guest:***@127.0.0.1:5672');
    expect(stdout).toContain('Done: 3 placed, 1 rejected by inventory, 3 notified, 3 reported, 2 dead-lettered.');
  });
});

describe('switchyard bench', () => {
  it('measures publish, publish → handler and request/reply on memory', async () => {
    const { code, stdout } = await runCli(['bench', 'memory://', '--scale', '0.02']);
    expect(code).toBe(0);
    for (const label of ['publish (confirmed, 64 in flight)', 'publish → handler (concurrency 16)', 'request/reply (16 in flight)']) {
      expect(stdout).toMatch(new RegExp(`^${label.replace(/[()→]/g, '.')} +\\d+ in +[\\d.]+ s +[\\d,]+ /s$`, 'm'));
    }
  });
});
