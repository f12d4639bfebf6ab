/**
 * Checks that agent text on a Slack surface is inert data, and the pure
 * "unrender": reading back, from the blocks alone, every agent value a card
 * shows and mapping it to the intent's value (or its declared cut).
 */
import { expect } from 'vitest';
import { fencedJson, unescapeEntities, unreveal } from '../../lambdas/shared/agent-text.js';
import type { Intent } from '../../lambdas/shared/intent.js';
import { maskParameters } from '../../lambdas/shared/masking.js';
import { declaredFacts, type VerifiedFacts } from '../../lambdas/shared/registration.js';

type Text = { type: string; text: string };
type Block = { type: string; text?: Text; fields?: Text[]; elements?: Text[] };

/** Countersign's voice in a mrkdwn text: everything outside ``` fences and `code` spans. */
export function voiceOf(mrkdwn: string): string {
  const parts = mrkdwn.split('```');
  // An odd number of fences means the data closed or opened one: report the whole text as voice.
  if (parts.length % 2 === 0) return mrkdwn;
  return parts
    .filter((_, i) => i % 2 === 0)
    .map((p) => p.replace(/`[^`\n]+`/g, ' '))
    .join(' ');
}

/** Code regions of a mrkdwn text (fences and spans), as Slack shows them. */
export function codeOf(mrkdwn: string): string[] {
  const parts = mrkdwn.split('```');
  const fenced = parts.filter((_, i) => i % 2 === 1);
  const spans = parts
    .filter((_, i) => i % 2 === 0)
    .flatMap((p) => [...p.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));
  return [...fenced, ...spans];
}

/** Every text object of a block list, with the kind of place it sits in. */
export function textsOf(blocks: unknown[]): Text[] {
  const out: Text[] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      const v = value as Record<string, unknown>;
      if ((v.type === 'mrkdwn' || v.type === 'plain_text') && typeof v.text === 'string') out.push(v as Text);
      else Object.values(v).forEach(visit);
    }
  };
  visit(blocks);
  return out;
}

/** Slack control sequences Countersign itself writes: dates, mentions of Slack-given user ids, its archive links. */
const OURS =
  /^<(!date\^\d+\^[^|>]*\|[^>]*|@U0[A-Z0-9]+|!subteam\^S[A-Z0-9]+\|@[a-z0-9-]+|https:\/\/slack\.com\/archives\/[A-Z0-9]+\/p\d+\|review card|https:\/\/slack\.com\/archives\/[A-Z0-9]+\/p\d+\|Open the review card)>$/;

/**
 * Problems with one mrkdwn text: live controls that are not ours, raw `<`,
 * `>` or unescaped `&` inside code, and the canary outside code.
 */
export function mrkdwnProblems(text: string, canary: string): string[] {
  const problems: string[] = [];
  const voice = voiceOf(text);
  if (voice.includes(canary))
    problems.push(`agent text in Countersign's voice: ${JSON.stringify(text.slice(0, 200))}`);
  for (const m of voice.matchAll(/<[^<>]*>/g)) if (!OURS.test(m[0])) problems.push(`live control ${m[0]}`);
  for (const code of codeOf(text)) {
    if (/[<>]/.test(code)) problems.push(`raw angle bracket in code: ${code.slice(0, 80)}`);
    if (/&(?!amp;|lt;|gt;)/.test(code)) problems.push(`bare & in code: ${code.slice(0, 80)}`);
  }
  return problems;
}

/** Hidden and direction-changing characters that must never reach a surface raw. */
export const RAW_HIDDEN = /(?![\n\t])[\p{Cc}\p{Cf}]/u;

/** Every problem of a block list (a card, a modal's blocks) for one canary. */
export function blocksProblems(blocks: unknown[], canary: string): string[] {
  const problems: string[] = [];
  for (const t of textsOf(blocks)) {
    if (t.type === 'mrkdwn') problems.push(...mrkdwnProblems(t.text, canary));
    if (t.type === 'plain_text' && (t as { emoji?: boolean }).emoji !== false && t.text.includes(canary))
      problems.push(`agent text in a plain_text with emoji on: ${t.text.slice(0, 80)}`);
    if (RAW_HIDDEN.test(t.text))
      problems.push(`raw hidden character in ${JSON.stringify(t.text.slice(0, 80))}`);
  }
  return problems;
}

/** A value a card shows: its label, how it is shown and what the label declares. */
export interface ShownValue {
  label: string;
  shown: string;
  form: 'plain' | 'code';
  cut: boolean;
  hidden: boolean;
}

const labelName = (mrkdwn: string) => /^\*([^*]+)\*/.exec(mrkdwn)?.[1];

/**
 * Reads a card's agent values back from its blocks: label/value fields
 * (`*Label*` mrkdwn then plain_text) and labelled fences (a `*Label*` section,
 * then a section that is one ``` fence, or `*Label*` and a fence in one text).
 */
export function cardValues(blocks: unknown[]): ShownValue[] {
  const out: ShownValue[] = [];
  const list = blocks as Block[];
  const declare = (label: string) => ({
    cut: label.includes(':scissors:'),
    hidden: label.includes('hidden or direction-changing'),
  });
  list.forEach((b, i) => {
    if (b.type !== 'section') return;
    if (b.fields) {
      for (let k = 0; k + 1 < b.fields.length; k += 2) {
        const [l, v] = [b.fields[k]!, b.fields[k + 1]!];
        const name = labelName(l.text);
        if (name && v.type === 'plain_text')
          out.push({ label: name, shown: v.text, form: 'plain', ...declare(l.text) });
      }
      return;
    }
    const text = b.text?.text ?? '';
    const name = labelName(text);
    const next = list[i + 1]?.text?.text ?? '';
    const inline = /```([\s\S]*)```$/.exec(text);
    if (name && inline)
      out.push({ label: name, shown: unescapeEntities(inline[1]!), form: 'code', ...declare(text) });
    else if (name && !inline && /^```[\s\S]*```$/.test(next))
      out.push({ label: name, shown: unescapeEntities(next.slice(3, -3)), form: 'code', ...declare(text) });
  });
  return out;
}

/** The value as the reader gets it back: visible escapes undone. */
export function readBack(value: ShownValue): string {
  return unreveal(value.shown, value.form === 'plain' ? 'line' : 'lines');
}

/** What a card was drawn from: the intent, the agent, the masked paths and the decision's reason. */
export interface CardSource {
  intent: Intent;
  agentId: string;
  masked: readonly string[];
  reason?: string;
  /** The facts Evaluate verified, when the request has them. @default the intent's own, canonical */
  verified?: VerifiedFacts;
}

/** What the card should read back for a label. */
function expectedValue(source: CardSource, label: string): unknown {
  const i = source.intent;
  // The people are shown as Countersign verified them: canonical emails, the registered owner.
  const facts = source.verified ?? declaredFacts(i);
  const table: Record<string, unknown> = {
    Action: i.action,
    // The environment itself is Countersign's (derived); only a differing declaration is agent text.
    'Environment declared by the agent': i.environment,
    Resource: i.resource,
    Agent: source.agentId,
    Model: i.agent.model,
    'On behalf of': facts.onBehalfOf,
    'Owner (registered)': facts.owner,
    Session: i.agent.sessionId,
    'Why (as the agent wrote it)': i.justification,
    'Impact (as the agent wrote it)': i.context?.impact,
    Diff: i.context?.diff,
    Datasets: i.context?.datasets,
    Parameters: maskParameters(i.parameters, source.masked),
    Reason: source.reason,
  };
  return table[label];
}

/**
 * "Card text equals the canonical intent under rendering": every agent value
 * on the card reads back (visible escapes undone) to the intent's value, or
 * to a prefix of it when the card declares the cut.
 */
export function assertFaithful(source: CardSource, blocks: unknown[]): void {
  const values = cardValues(blocks);
  expect(values.map((v) => v.label)).toEqual(
    expect.arrayContaining(['Action', 'Resource', 'Why (as the agent wrote it)', 'Parameters']),
  );
  for (const v of values) {
    const want = expectedValue(source, v.label);
    if (v.label === 'Parameters') {
      // Cut: a prefix of the whole (fence-safe) JSON; whole: it parses back to the value.
      if (v.cut) expect(unescapeEntities(fencedJson(want).tokens.join('')).startsWith(v.shown)).toBe(true);
      else expect(JSON.parse(v.shown)).toEqual(want);
      continue;
    }
    const back =
      v.label === 'Datasets' ? v.shown.split('\n').map((line) => unreveal(line, 'line')) : readBack(v);
    if (v.cut && Array.isArray(back)) {
      const list = want as string[];
      expect(back.slice(0, -1)).toEqual(list.slice(0, back.length - 1));
      expect(list[back.length - 1]!.startsWith(back.at(-1)!)).toBe(true);
    } else if (v.cut) {
      expect(typeof want, v.label).toBe('string');
      expect((want as string).startsWith(back as string), `${v.label} is a prefix of the value`).toBe(true);
    } else expect(back, v.label).toEqual(want);
  }
}
