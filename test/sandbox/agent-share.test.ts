/** Each agent's share of the sandbox process: one agent's backlog waits behind itself, never another's. */
import { describe, expect, it } from 'vitest';
import { AgentShare, UNREGISTERED } from '../../sandbox/agent-share.js';

/** A piece of work the test ends by hand, recording when it started. */
function gate(log: string[], name: string) {
  let open!: () => void;
  const ended = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    work: async () => {
      log.push(name);
      await ended;
      return name;
    },
    open: () => open(),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AgentShare', () => {
  it('runs at most `limit` of one agent at once; the rest start in order as slots free', async () => {
    // Prepare
    const share = new AgentShare(2);
    const log: string[] = [];
    const gates = ['a1', 'a2', 'a3', 'a4'].map((name) => gate(log, name));
    // Act
    const runs = gates.map((g) => share.run('flood-bot', g.work));
    await settle();
    // Assess
    expect(log).toEqual(['a1', 'a2']);
    expect(share.load('flood-bot')).toEqual({ running: 2, waiting: 2 });
    gates[1]!.open();
    await settle();
    expect(log).toEqual(['a1', 'a2', 'a3']);
    gates[0]!.open();
    await settle();
    expect(log).toEqual(['a1', 'a2', 'a3', 'a4']);
    for (const g of gates) g.open();
    expect(await Promise.all(runs)).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(share.load('flood-bot')).toEqual({ running: 0, waiting: 0 });
    expect(share.longestWaitMs.get('flood-bot')).toBeGreaterThanOrEqual(0);
  });

  it('another agent runs at once while one agent is at its limit with a backlog', async () => {
    // Prepare
    const share = new AgentShare(1);
    const log: string[] = [];
    const flood = Array.from({ length: 50 }, (_, i) => gate(log, `flood-${i}`));
    const floodRuns = flood.map((g) => share.run('flood-bot', g.work));
    // Act
    const other = await share.run('report-bot', async () => 'reviewed');
    // Assess
    expect(other).toBe('reviewed');
    expect(log).toEqual(['flood-0']);
    expect(share.load('flood-bot')).toEqual({ running: 1, waiting: 49 });
    expect(share.longestWaitMs.has('report-bot')).toBe(false);
    for (const g of flood) g.open();
    await Promise.all(floodRuns);
    expect(log).toHaveLength(50);
  });

  it('a failing invocation frees its slot and its error reaches the caller', async () => {
    // Prepare
    const share = new AgentShare(1);
    // Act
    const failed = share.run('deploy-bot', async () => {
      throw new Error('handler failed');
    });
    const next = share.run('deploy-bot', async () => 'ran');
    // Assess
    await expect(failed).rejects.toThrow('handler failed');
    expect(await next).toBe('ran');
    expect(share.load('deploy-bot')).toEqual({ running: 0, waiting: 0 });
  });

  it('given the registered sources, every other source takes turns in one share', async () => {
    // Prepare
    const share = new AgentShare(1, new Set(['countersign.agent.deploy-bot']));
    const log: string[] = [];
    const first = gate(log, 'invented-1');
    // Act
    const held = share.run('countersign.agent.invented-1', first.work);
    const second = share.run('countersign.agent.invented-2', async () => 'second');
    const registered = await share.run('countersign.agent.deploy-bot', async () => 'deploy-bot');
    await settle();
    // Assess: the second invented source waits behind the first; the registered agent does not.
    expect(registered).toBe('deploy-bot');
    expect(share.keyOf('countersign.agent.invented-2')).toBe(UNREGISTERED);
    expect(share.keyOf('countersign.agent.deploy-bot')).toBe('countersign.agent.deploy-bot');
    expect(share.load('countersign.agent.anything')).toEqual({ running: 1, waiting: 1 });
    first.open();
    expect(await Promise.all([held, second])).toEqual(['invented-1', 'second']);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a limit of %s', (limit) => {
    expect(() => new AgentShare(limit)).toThrow(/limit must be a positive integer/);
  });
});
