/**
 * The web inbox: sign-in with the IdP, the pending requests a person may
 * decide, one request with the card's full context, approve / deny with a
 * reason / modify, and the history of decided requests. Every POST needs the
 * session's anti-forgery token and must come from the inbox's own origin.
 */
import { type StepUpRequirement, TokenRefused } from '../identity/contract.js';
import { STEP_UP_REFUSAL } from '../identity/step-up.js';
import { PARAM_BLOCK, readModification } from '../interaction/modals.js';
import type { ReviewCommand, ReviewOutcome } from '../review-core/contract.js';
import { describeError, runReviewCommand } from '../review-core/dispatch.js';
import { currentIntent, getRequest, listRequests, type RequestItem } from '../shared/store.js';
import { actorOf, mayApprove, mayView, WEB_CHANNEL } from './actor.js';
import { statusOf, type WebDeps } from './contract.js';
import { html, MAX_BODY_BYTES, redirect, type WebAnswer, type WebRequest } from './http.js';
import { historyPage, inboxPage, messagePage, type PageNotice, requestPage } from './pages.js';
import {
  clearCookie,
  csrfMatches,
  LOGIN_COOKIE,
  LOGIN_TTL_SECONDS,
  newSession,
  openLogin,
  openSession,
  parseCookies,
  SESSION_COOKIE,
  SESSION_TTL_SECONDS,
  type Session,
  safeReturnPath,
  sealLogin,
  sealSession,
  setCookie,
} from './session.js';
import { requestView } from './view.js';

/** Most decided requests the history shows. */
export const HISTORY_LIMIT = 100;

const REQUEST_PAGE = /^\/requests\/([^/]+)$/;
const DECISION_FORM = /^\/requests\/([^/]+)\/decision$/;

const seconds = (deps: WebDeps) => Math.floor(deps.core.now().getTime() / 1000);

/** The session of this request, when its cookie verifies. */
function sessionOf(deps: WebDeps, http: WebRequest): Session | undefined {
  const cookie = parseCookies(http.cookies)[SESSION_COOKIE];
  const opened = openSession(deps.sessionKey, cookie, seconds(deps));
  if (!opened.ok && cookie) deps.core.logger.warn('session cookie refused', { reason: opened.reason });
  return opened.ok ? opened.value : undefined;
}

/** Off to sign in, coming back to `returnTo`. */
const toSignIn = (returnTo: string) =>
  redirect(`/login?return=${encodeURIComponent(safeReturnPath(returnTo))}`, 'sign-in-needed');

/**
 * Whether a POST is the person's own: it carries the session's anti-forgery
 * token, and the browser does not say it came from another site.
 */
function forged(
  deps: WebDeps,
  http: WebRequest,
  session: Session,
  form: URLSearchParams,
): string | undefined {
  const origin = http.headers.origin;
  if (origin !== undefined && origin !== deps.origin) return `the form was posted from ${origin}`;
  const site = http.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `the form was posted ${site}`;
  if (!csrfMatches(session, form.get('csrf'))) return 'the anti-forgery token is missing or wrong';
  return undefined;
}

const refusedPost = (reason: string) =>
  html(
    403,
    messagePage(
      'Refused',
      `Countersign refused this form: ${reason}. Nothing changed. Open the page again and retry.`,
      { href: '/', text: 'Back to the inbox' },
    ),
    'forged',
  );

/** Routes one inbox request. Never throws. */
export async function handleInbox(deps: WebDeps, http: WebRequest): Promise<WebAnswer> {
  try {
    if (http.path === '/login' && http.method === 'GET') return await login(deps, http);
    if (http.path === '/callback' && http.method === 'GET') return await callback(deps, http);
    const session = sessionOf(deps, http);
    if (http.method === 'GET') {
      if (!session) return toSignIn(http.path);
      if (http.path === '/') return await inbox(deps, session);
      if (http.path === '/history') return await history(deps, session);
      const page = http.path.match(REQUEST_PAGE);
      if (page) return await showRequest(deps, session, decodeURIComponent(page[1]!));
      return html(404, messagePage('Not found', 'There is no such page.'), 'not-found');
    }
    if (http.method !== 'POST')
      return html(405, messagePage('Not allowed', 'Use GET or POST.'), 'bad-method');
    if (!session)
      return html(
        401,
        messagePage('Signed out', 'Your session ended; nothing changed. Sign in and try again.', {
          href: '/login',
          text: 'Sign in',
        }),
        'signed-out',
      );
    if (Buffer.byteLength(http.body, 'utf8') > MAX_BODY_BYTES) return refusedPost('the form is too large');
    const form = new URLSearchParams(http.body);
    const forgery = forged(deps, http, session, form);
    if (forgery) {
      deps.core.logger.warn('forged inbox POST refused', { reason: forgery, path: http.path });
      return refusedPost(forgery);
    }
    if (http.path === '/logout')
      return html(
        200,
        messagePage('Signed out', 'You are signed out of the Countersign inbox.', {
          href: '/',
          text: 'Sign in again',
        }),
        'signed-out',
        [clearCookie(SESSION_COOKIE)],
      );
    const decision = http.path.match(DECISION_FORM);
    if (decision) return await decide(deps, session, decodeURIComponent(decision[1]!), form);
    return html(404, messagePage('Not found', 'There is no such form.'), 'not-found');
  } catch (error) {
    deps.core.logger.error('inbox request failed; nothing was approved', { error: describeError(error) });
    return html(
      500,
      messagePage(
        'Something went wrong',
        'Countersign could not process this and approved nothing. Try again.',
      ),
      'error',
    );
  }
}

async function login(deps: WebDeps, http: WebRequest): Promise<WebAnswer> {
  const returnTo = safeReturnPath(http.query.get('return'));
  let stepUp: StepUpRequirement | undefined;
  if (http.query.get('stepup') === '1') {
    const id = returnTo.match(REQUEST_PAGE)?.[1];
    const request = id ? await getRequest(deps.core, id) : undefined;
    // A step-up always asks for a fresh sign-in, at the request's strength when policy names one.
    stepUp = request?.review?.stepUp ?? { amr: [], maxAgeSeconds: 0 };
  }
  const started = await deps.signIn.start({ returnTo, ...(stepUp ? { stepUp } : {}) }, seconds(deps));
  return redirect(started.url, 'sign-in-started', [
    setCookie(LOGIN_COOKIE, sealLogin(deps.sessionKey, started.login), LOGIN_TTL_SECONDS),
  ]);
}

async function callback(deps: WebDeps, http: WebRequest): Promise<WebAnswer> {
  const failed = (message: string) =>
    html(
      401,
      messagePage('Sign-in failed', message, { href: '/login', text: 'Sign in again' }),
      'sign-in-failed',
      [clearCookie(LOGIN_COOKIE)],
    );
  const opened = openLogin(deps.sessionKey, parseCookies(http.cookies)[LOGIN_COOKIE], seconds(deps));
  if (!opened.ok) return failed(`This sign-in was not started here or took too long (${opened.reason}).`);
  if (http.query.get('error'))
    return failed(`The identity provider refused the sign-in: ${http.query.get('error')?.slice(0, 100)}.`);
  const url = new URL(`${deps.origin}/callback?${http.query.toString()}`);
  let signIn: Awaited<ReturnType<WebDeps['signIn']['finish']>>;
  try {
    signIn = await deps.signIn.finish(url, opened.value);
  } catch (error) {
    deps.core.logger.warn('sign-in refused', { error: describeError(error) });
    return failed(
      error instanceof TokenRefused
        ? `The identity provider's answer did not verify: ${error.message}.`
        : 'The identity provider could not confirm the sign-in.',
    );
  }
  const session = newSession(signIn, seconds(deps));
  return redirect(opened.value.returnTo, 'signed-in', [
    setCookie(SESSION_COOKIE, sealSession(deps.sessionKey, session), SESSION_TTL_SECONDS),
    clearCookie(LOGIN_COOKIE),
  ]);
}

async function inbox(deps: WebDeps, session: Session, n?: PageNotice): Promise<WebAnswer> {
  const actor = actorOf(WEB_CHANNEL, session.signIn);
  const pending = await listRequests(deps.core, ['PENDING']);
  const mine: RequestItem[] = [];
  for (const request of pending) if (await mayApprove(deps.core, request, actor)) mine.push(request);
  return html(200, inboxPage(session, mine.map(requestView), n), 'inbox');
}

async function history(deps: WebDeps, session: Session): Promise<WebAnswer> {
  const actor = actorOf(WEB_CHANNEL, session.signIn);
  const decided = await listRequests(deps.core, ['APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED']);
  const shown: RequestItem[] = [];
  for (const request of decided) {
    if (shown.length >= HISTORY_LIMIT) break;
    if (await mayView(deps.core, request, actor)) shown.push(request);
  }
  return html(200, historyPage(session, shown.map(requestView)), 'history');
}

const notFound = () =>
  html(
    404,
    messagePage('Not found', 'No such request, or not one you may see.', {
      href: '/',
      text: 'Back to the inbox',
    }),
    'unknown-request',
  );

async function showRequest(
  deps: WebDeps,
  session: Session,
  id: string,
  n?: PageNotice,
  status = 200,
  reason?: string,
) {
  const actor = actorOf(WEB_CHANNEL, session.signIn);
  const request = await getRequest(deps.core, id);
  if (!request || !(await mayView(deps.core, request, actor))) return notFound();
  // Anyone who may see a pending request gets the forms: the core decides, and says why not.
  return html(
    status,
    requestPage(session, requestView(request), {
      mayDecide: request.status === 'PENDING',
      ...(n ? { notice: n } : {}),
      ...(reason ? { reason } : {}),
    }),
    n ? `page-${n.kind}` : 'request',
  );
}

/** What the person reads after the core answered. */
function noticeOf(outcome: ReviewOutcome, requestId: string): PageNotice {
  if (outcome.refusal) {
    const url = outcome.refusal.url;
    return {
      kind: 'refused',
      // This page is where the core points a step-up: offer the fresh sign-in instead of the link.
      message: (url
        ? outcome.refusal.message.replace(` Approve at ${url}.`, '')
        : outcome.refusal.message
      ).replace(/\*/g, ''),
      ...(outcome.refusal.code === STEP_UP_REFUSAL
        ? { stepUpHref: `/login?return=${encodeURIComponent(`/requests/${requestId}`)}&stepup=1` }
        : {}),
    };
  }
  const done: Record<string, string> = {
    approved: 'Approved. The agent may now run exactly this version.',
    denied: 'Denied. The agent is told your reason.',
    modified: 'Modified. Policy re-evaluated the new parameters.',
  };
  return { kind: 'done', message: outcome.notice ?? done[outcome.outcome] ?? 'Done.' };
}

async function decide(deps: WebDeps, session: Session, requestId: string, form: URLSearchParams) {
  const verb = form.get('decision');
  if (verb !== 'approve' && verb !== 'deny' && verb !== 'modify')
    return showRequest(
      deps,
      session,
      requestId,
      { kind: 'refused', message: 'Choose approve, deny or modify.' },
      400,
    );
  const actor = actorOf(WEB_CHANNEL, session.signIn);
  const request = await getRequest(deps.core, requestId);
  if (!request || !(await mayView(deps.core, request, actor))) return notFound();
  const command: ReviewCommand = { requestId, verb, actor, seenHash: form.get('intentHash') ?? '' };
  if (verb === 'deny') command.reason = form.get('reason') ?? '';
  if (verb === 'modify') {
    const read = readParameters(request, form);
    if ('error' in read)
      return showRequest(deps, session, requestId, { kind: 'refused', message: read.error }, 400);
    command.parameters = read.parameters;
  }
  const outcome = await runReviewCommand(deps.core, command);
  return showRequest(
    deps,
    session,
    requestId,
    noticeOf(outcome, requestId),
    statusOf(outcome),
    command.reason,
  );
}

/** The modify form's inputs over the agent's parameters (typed like the values they replace, by the Slack form's reader). */
function readParameters(
  request: RequestItem,
  form: URLSearchParams,
): { parameters: Record<string, unknown> } | { error: string } {
  const plan = request.review;
  if (!plan || request.status !== 'PENDING') return { error: 'This request can no longer be modified.' };
  const values: Record<string, Record<string, string | undefined>> = {};
  for (const path of plan.editable)
    values[`${PARAM_BLOCK}${path}`] = { value: form.get(`param:${path}`) ?? '' };
  const read = readModification(currentIntent(request), plan, values);
  if (!read.ok) return { error: Object.values(read.errors).join(' ') };
  return { parameters: read.parameters };
}
