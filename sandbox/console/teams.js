/**
 * The console's Teams view: the cards the fake Bot Connector holds, rendered
 * with Microsoft's Adaptive Cards renderer (the `adaptivecards` package), as
 * the person picked above. An Action.Execute goes to the server, which signs
 * the `adaptiveCard/action` invoke Teams would send for that person and posts
 * it to the bot's messaging endpoint; the card in the answer replaces the
 * clicked one for this person, as in Teams, until the card is updated for
 * everyone.
 */
const AC = window.AdaptiveCards;
const STORAGE_KEY = 'countersign.console.user';
const state = { userId: localStorage.getItem(STORAGE_KEY) ?? '', shown: new Map(), answers: new Map() };

const $ = (selector) => document.querySelector(selector);

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/** Renders a card; Action.Execute clicks go to the bot as the picked person. */
function render(json, activityId) {
  const card = new AC.AdaptiveCard();
  card.hostConfig = new AC.HostConfig({ fontFamily: 'system-ui, sans-serif' });
  card.onExecuteAction = (action) => {
    if (action instanceof AC.ExecuteAction) void execute(activityId, action.verb, action.data ?? {});
  };
  card.parse(json);
  return card.render();
}

async function execute(activityId, verb, data) {
  const res = await fetch('/api/teams/click', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: state.userId, verb, data }),
  });
  const answer = await res.json();
  const invoke = answer.invoke;
  if (invoke?.type === 'application/vnd.microsoft.card.adaptive') {
    state.answers.set(activityId, { card: invoke.value, at: state.shown.get(activityId)?.updates ?? 0 });
  } else {
    const message = invoke?.value?.message ?? `HTTP ${answer.status}`;
    state.answers.set(activityId, {
      card: {
        type: 'AdaptiveCard',
        version: '1.5',
        body: [{ type: 'TextBlock', text: message, wrap: true, color: 'Attention' }],
      },
      at: state.shown.get(activityId)?.updates ?? 0,
    });
  }
  document.body.dataset.lastOutcome = verb;
  await refresh(true);
}

async function refresh(force = false) {
  const { activities } = await getJson('/teams/activities');
  const cards = activities.filter((a) => a.card && !a.replyToId);
  $('#empty').hidden = cards.length > 0;
  const container = $('#cards');
  for (const activity of cards) {
    const answer = state.answers.get(activity.activityId);
    // An update for everyone replaces what this person was shown.
    if (answer && activity.updates > answer.at) state.answers.delete(activity.activityId);
    const previous = state.shown.get(activity.activityId);
    if (
      !force &&
      previous &&
      previous.updates === activity.updates &&
      !state.answers.has(activity.activityId)
    )
      continue;
    let item = container.querySelector(`[data-activity="${CSS.escape(activity.activityId)}"]`);
    if (!item) {
      item = document.createElement('article');
      item.className = 'teams-card';
      item.dataset.activity = activity.activityId;
      container.prepend(item);
    }
    item.dataset.request = activity.requestId ?? '';
    item.dataset.updates = String(activity.updates);
    const json = state.answers.get(activity.activityId)?.card ?? activity.card;
    item.replaceChildren(render(json, activity.activityId));
    const replies = activities.filter((a) => a.replyToId === activity.activityId && a.text);
    for (const reply of replies.reverse()) {
      const p = document.createElement('p');
      p.className = 'teams-reply';
      p.textContent = reply.text;
      item.append(p);
    }
    state.shown.set(activity.activityId, { updates: activity.updates });
  }
}

async function main() {
  const directory = await getJson('/api/directory');
  const picker = $('#user-picker');
  for (const user of directory.users.filter((u) => !u.isBot)) {
    const option = document.createElement('option');
    option.value = user.id;
    option.textContent = `${user.realName ?? user.name} (${user.email ?? 'no email'})`;
    picker.append(option);
  }
  if (state.userId) picker.value = state.userId;
  state.userId = picker.value;
  picker.addEventListener('change', () => {
    state.userId = picker.value;
    localStorage.setItem(STORAGE_KEY, state.userId);
    state.answers.clear();
    void refresh(true);
  });
  await refresh(true);
  document.body.dataset.ready = 'true';
  setInterval(() => void refresh().catch(() => {}), 500);
}

void main();
