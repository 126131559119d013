/// <reference lib="dom" />
/** The dashboard's entry: header, navigation (hash routes), connection banner, token prompt. */
import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ConfigPage } from './config-page.js';
import { usePolled } from './data.js';
import { GraphPage } from './graph-page.js';
import { ProxiesPage } from './proxies-page.js';
import { SecurityPage } from './security-page.js';
import { ServiceList, ServicePage } from './service-page.js';

const PAGES = [
  { path: 'graph', title: 'Graph' },
  { path: 'service', title: 'Services' },
  { path: 'config', title: 'Config' },
  { path: 'security', title: 'Security' },
  { path: 'proxies', title: 'Proxies' },
];

function useHash(): string {
  const [h, setH] = useState(location.hash);
  useEffect(() => {
    const on = (): void => setH(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return h;
}

function Login() {
  return html`<main><h2>This control plane needs a token</h2>
    <form class="login" method="post" action="login">
      <label for="token">Viewer token (the dashboard keeps it in a cookie for this site)</label>
      <input id="token" name="token" type="password" autocomplete="off" required />
      <button type="submit">Open the dashboard</button>
      <p class="muted">A viewer token: <code>bowline api-token create --scope viewer NAME</code> (or, on the control plane's host, the admin token: <code>cat ~/.bowline/admin-token</code>). On loopback no token is needed.</p>
    </form></main>`;
}

function App() {
  const hash = useHash();
  const [route = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const [page = 'graph', ...rest] = route.split('/');
  const params = new URLSearchParams(query);
  const health = usePolled<unknown>('services', 4000);
  const arg = decodeURIComponent(rest.join('/'));
  const current = PAGES.find((p) => p.path === page) ?? PAGES[0]!;
  useEffect(() => { document.title = `${current.title}${arg ? ` ${arg}` : ''} · Bowline`; }, [current.title, arg]);
  if (health.unauthorized) return html`<${Login} />`;
  let body;
  if (current.path === 'service') body = arg ? html`<${ServicePage} name=${arg} period=${Number(params.get('period')) || 60} />` : html`<${ServiceList} />`;
  else if (current.path === 'config') body = html`<${ConfigPage} />`;
  else if (current.path === 'security') body = html`<${SecurityPage} />`;
  else if (current.path === 'proxies') body = html`<${ProxiesPage} />`;
  else body = html`<${GraphPage} />`;
  return html`
    <header>
      <h1>Bowline</h1>
      <nav aria-label="Pages">${PAGES.map((p) => html`<a href=${`#/${p.path}`} aria-current=${p.path === current.path ? 'page' : undefined}>${p.title}</a>`)}</nav>
    </header>
    ${health.error ? html`<div class="banner" role="alert">Reconnecting: ${health.error}. The numbers shown are the last ones received.</div>` : null}
    <main>${body}</main>`;
}

const root = document.getElementById('app')!;
root.textContent = '';
render(html`<${App} />`, root);
