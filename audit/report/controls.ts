/**
 * The control mapping of the audit report: for each SOC 2 criterion and NIST
 * 800-53 (FedRAMP) control Countersign contributes to, what it asks, how
 * Countersign meets it, the evidence of this period and its exceptions. The
 * wording is Countersign's own summary of each control, not the standard's text.
 */
import type { ReportFigures } from './figures.js';

/** One control, with this period's evidence. */
export interface ControlEvidence {
  framework: 'SOC 2' | 'NIST 800-53 / FedRAMP';
  id: string;
  title: string;
  asks: string;
  meets: string;
  evidence: string[];
  exceptions: string[];
}

const examples = (ids: readonly string[], n = 3) =>
  ids.length === 0
    ? 'none'
    : `${ids.slice(0, n).join(', ')}${ids.length > n ? ` and ${ids.length - n} more` : ''}`;

/** The mapping for a report's figures. */
export function controlMapping(f: ReportFigures): ControlEvidence[] {
  const s = f.summary;
  const o = s.byOutcome;
  const human = f.rows.filter((r) => r.automatic === false && r.approvers.length > 0);
  const humanIds = human.map((r) => r.requestId);
  const automaticIds = f.rows.filter((r) => r.automatic).map((r) => r.requestId);
  const deniedIds = f.rows.filter((r) => r.outcome === 'DENIED').map((r) => r.requestId);
  const selfRefusals = f.refusals.filter((t) => t.name.startsWith('self')).reduce((n, t) => n + t.count, 0);
  const refusals = f.refusals.reduce((n, t) => n + t.count, 0);
  const v = f.verification;
  const verified = `${v.ok ? 'PASSED' : 'FAILED'}: ${v.digestCount} signed digests, ${v.recordCount} records, ${v.requestCount} requests${v.signaturesChecked ? `; signatures checked against key ${v.keyFingerprints.map((k) => `sha256:${k}`).join(', ')}` : '; signatures NOT checked (no public key)'}`;
  const problemLines = v.problems.map((p) => `${p.category}: ${p.message}`);
  const breakGlass = f.breakGlass.approvals.length
    ? [
        `${f.breakGlass.approvals.length} break-glass approvals (${examples(f.exceptions.breakGlass)}); ${f.breakGlass.unacknowledged.length} not yet acknowledged (${examples(f.breakGlass.unacknowledged)})`,
      ]
    : [];
  const expired = o.EXPIRED
    ? [`${o.EXPIRED} requests expired unanswered and were denied (${examples(f.exceptions.expired)})`]
    : [];
  const pending = v.pendingCount
    ? [`${v.pendingCount} records not yet in a signed digest (the open hour)`]
    : [];
  const unapproved = f.unapproved.count
    ? [
        `${f.unapproved.count} unapproved privileged actions: ${f.unapproved.detected} calls found in CloudTrail with no approval behind them, ${f.unapproved.count - f.unapproved.detected} grants consumed for requests that were not approved (${examples(f.unapproved.requestIds)})`,
      ]
    : [];
  const requests = `${s.requests} privileged-action requests: ${o.APPROVED} approved, ${o.DENIED} denied, ${o.EXPIRED} expired, ${o.CANCELLED} cancelled, ${o.PENDING} pending`;

  return [
    {
      framework: 'SOC 2',
      id: 'CC6.1',
      title: 'Logical access security',
      asks: 'Access to protected information assets is restricted by logical access controls.',
      meets:
        'Agents publish privileged actions as intents; Cedar policy allows, denies or requires a human review before any grant is issued, and an agent may publish only under its own registered source.',
      evidence: [requests, `examples of human-reviewed requests: ${examples(humanIds)}`],
      exceptions: [...breakGlass, ...unapproved],
    },
    {
      framework: 'SOC 2',
      id: 'CC6.2',
      title: 'Registration and authorization of users',
      asks: 'Users are registered and authorized before access is granted.',
      meets:
        'Approvers are resolved human identities (Slack user to email to groups); unresolved identities, bots and agents never approve. Agents are registered with a bound owner.',
      evidence: [
        `${f.approverLoad.length} distinct approvers approved requests: ${f.approverLoad.map((a) => `${a.name} (${a.count})`).join(', ') || 'none'}`,
        `${refusals} approval attempts refused by invariant or policy`,
      ],
      exceptions: [],
    },
    {
      framework: 'SOC 2',
      id: 'CC6.3',
      title: 'Role-based access and least privilege',
      asks: 'Access is authorized, modified or removed based on roles and least privilege, with segregation of duties.',
      meets:
        'Nobody approves their own action: not the agent, its owner or the human it acts for (invariant in code). High-risk actions need a quorum. Grants are single use and expire.',
      evidence: [
        `${selfRefusals} self-approval attempts refused`,
        `${human.length} requests decided by a human other than the requester (${examples(humanIds)})`,
      ],
      exceptions: breakGlass,
    },
    {
      framework: 'SOC 2',
      id: 'CC7.2',
      title: 'Monitoring for anomalies',
      asks: 'System components are monitored for anomalies indicative of malicious acts or errors.',
      meets:
        'Every step is audited; CloudWatch alarms on failed executions, dead-letter queues, archive lag, overdue digests, stuck reviews and interaction errors; rubber-stamp approvals and approver load are measured.',
      evidence: [
        `${refusals} refused attempts recorded (${f.refusals.map((t) => `${t.name} ${t.count}`).join(', ') || 'none'})`,
        `${o.DENIED} denials (${examples(deniedIds)})`,
      ],
      exceptions: [...expired, ...problemLines],
    },
    {
      framework: 'SOC 2',
      id: 'CC8.1',
      title: 'Change management',
      asks: 'Changes to infrastructure and software are authorized, tested and approved before implementation.',
      meets:
        'Privileged changes proposed by agents wait for policy and, where required, human approval of the exact intent version (hash) that will run; policy changes ship only as a validated, digested bundle and can be trialled in shadow mode first.',
      evidence: [
        `${o.APPROVED} changes approved, each bound to its intent hash`,
        `shadow policies evaluated on ${f.shadow.evaluated} intents; would have changed ${f.shadow.changed} outcomes (${examples(f.shadow.changedRequestIds)})`,
      ],
      exceptions: breakGlass,
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AC-2',
      title: 'Account management',
      asks: 'Accounts, including privileged ones, are managed, with their use monitored.',
      meets:
        'Every agent account is registered with an owner; every privileged use by an agent is a recorded request.',
      evidence: [
        `${f.topAgents.length} agents made requests: ${f.topAgents.map((a) => `${a.name} (${a.count})`).join(', ') || 'none'}`,
      ],
      exceptions: [],
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AC-3',
      title: 'Access enforcement',
      asks: 'Approved authorizations are enforced for logical access.',
      meets:
        'Policy decides each intent; approvals produce a single-use grant for exactly the approved intent.',
      evidence: [requests, `${s.automatic} decided automatically by policy (${examples(automaticIds)})`],
      exceptions: unapproved,
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AC-5',
      title: 'Separation of duties',
      asks: 'Duties are separated so that no individual can complete a sensitive action alone.',
      meets:
        'Requester, owner and on-behalf-of human can never approve; quorum policies need several distinct approvers.',
      evidence: [
        `${selfRefusals} self-approval attempts refused`,
        `human-approved examples: ${examples(humanIds)}`,
      ],
      exceptions: breakGlass,
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AC-6',
      title: 'Least privilege',
      asks: 'Only the access needed for the task is allowed.',
      meets:
        'Agents hold no standing privilege for reviewed actions: each grant covers one approved intent, once, for a short time; approvers may narrow editable parameters.',
      evidence: [`top actions: ${f.topActions.map((a) => `${a.name} (${a.count})`).join(', ') || 'none'}`],
      exceptions: unapproved,
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AU-2',
      title: 'Event logging',
      asks: 'The events to be logged are defined and logged.',
      meets:
        'Every state change of a request (requested, evaluated, notified, vote, refusal, decision, announcement, grant use) is an audit record.',
      evidence: [`${v.recordCount} audit records for ${v.requestCount} requests`],
      exceptions: pending,
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AU-3',
      title: 'Content of audit records',
      asks: 'Records say what happened, when, where, the source, the outcome and who was involved.',
      meets:
        'Each record names its kind, time, actor (agent source, human identity and channel, or policy ids), the intent hash and the data of the change.',
      evidence: [`example request chains: ${examples(f.rows.map((r) => r.requestId))}`],
      exceptions: [],
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AU-9',
      title: 'Protection of audit information',
      asks: 'Audit information is protected from unauthorized change and deletion.',
      meets:
        'Records are hash-chained per request, stored under S3 Object Lock COMPLIANCE retention, and listed in hourly digests signed with a KMS key.',
      evidence: [verified],
      exceptions: problemLines,
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AU-10',
      title: 'Non-repudiation',
      asks: 'Proof that an individual performed an action cannot be denied.',
      meets:
        'Each vote names the approver and the intent version they saw; the signed digest chain proves the records existed unchanged at signing time.',
      evidence: [`${human.length} human decisions with named approvers`, verified],
      exceptions: problemLines,
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AU-11',
      title: 'Audit record retention',
      asks: 'Audit records are kept for the required period.',
      meets:
        'Every record and digest object carries COMPLIANCE retention (auditRetentionDays), which nobody, including the account root, can shorten.',
      evidence: [`${v.recordCount} records and ${v.digestCount} digests present for the period`],
      exceptions: v.problems.filter((p) => p.category === 'missing').map((p) => p.message),
    },
    {
      framework: 'NIST 800-53 / FedRAMP',
      id: 'AU-12',
      title: 'Audit record generation',
      asks: 'The system generates audit records for the defined events.',
      meets:
        'Handlers write the record in the same step as the change (conditional write); the table stream archives each one to the bucket, retrying and dead-lettering (alarmed) rather than skipping.',
      evidence: [`${v.recordCount} records generated and archived in the period`],
      exceptions: pending,
    },
  ];
}
