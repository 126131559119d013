// The product page's HTML: the book, its details, its reviews with stars, and Sign in / Sign out.

/** The one product Bookinfo sells. */
export const PRODUCT = {
  id: 0,
  title: 'The Comedy of Errors',
  descriptionHtml: 'A farce of two sets of identical twins, separated at birth, who turn up in the same town on the same day. <a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia</a>',
};

/** The message shown when details cannot be fetched. */
export const DETAILS_UNAVAILABLE = 'Sorry, product details are currently unavailable for this book.';
/** The message shown when reviews cannot be fetched. */
export const REVIEWS_UNAVAILABLE = 'Sorry, product reviews are currently unavailable for this book.';

/** What the page shows: the user, and details/reviews JSON or undefined when unavailable. */
export interface PageModel {
  user?: string;
  details?: Record<string, unknown>;
  reviews?: { podname?: unknown; reviews?: unknown };
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const DETAIL_ROWS: Array<[string, string]> = [
  ['type', 'Type'], ['pages', 'Pages'], ['publisher', 'Publisher'], ['language', 'Language'], ['ISBN-10', 'ISBN-10'], ['ISBN-13', 'ISBN-13'],
];

function signIn(user: string | undefined): string {
  if (user) {
    return `<span class="user">Signed in as <strong id="signed-in-user">${escapeHtml(user)}</strong></span> <a id="sign-out" class="button" href="/logout">Sign out</a>`;
  }
  return `<form id="login-form" method="post" action="/login">
      <input id="username" name="username" placeholder="User Name" autocomplete="username" required>
      <input id="passwd" name="passwd" type="password" placeholder="Password" autocomplete="current-password">
      <button id="sign-in" type="submit">Sign in</button>
    </form>`;
}

function details(d: Record<string, unknown> | undefined): string {
  if (!d) return `<p class="error" id="details-error">${DETAILS_UNAVAILABLE}</p>`;
  const rows = DETAIL_ROWS.map(([k, label]) => `<tr><th>${label}</th><td data-field="${escapeHtml(k)}">${escapeHtml(d[k] ?? '')}</td></tr>`);
  return `<table id="details">
      <tr><th>Author</th><td data-field="author">${escapeHtml(d.author ?? '')}</td></tr>
      <tr><th>Year</th><td data-field="year">${escapeHtml(d.year ?? '')}</td></tr>
      ${rows.join('\n      ')}
    </table>`;
}

/** The stars of one rating: filled ★ in the rating's colour, then empty ☆ up to five. */
export function stars(rating: unknown): string {
  if (!rating || typeof rating !== 'object') return '';
  const r = rating as { stars?: unknown; color?: unknown; error?: unknown };
  if (typeof r.error === 'string') return `<p class="rating-error">${escapeHtml(r.error)}</p>`;
  if (typeof r.stars !== 'number') return '';
  const n = Math.max(0, Math.min(5, Math.round(r.stars)));
  const color = typeof r.color === 'string' && /^[a-z]{1,20}$/.test(r.color) ? r.color : 'black';
  return `<span class="stars stars-${color}" data-stars="${n}" data-color="${color}" style="color: ${color}" title="${n} of 5">${'★'.repeat(n)}<span class="empty">${'☆'.repeat(5 - n)}</span></span>`;
}

function reviews(r: PageModel['reviews']): string {
  if (!r || !Array.isArray(r.reviews)) return `<p class="error" id="reviews-error">${REVIEWS_UNAVAILABLE}</p>`;
  const items = r.reviews.map((rv: { reviewer?: unknown; text?: unknown; rating?: unknown }) => `<blockquote class="review">
        <p>${escapeHtml(rv.text ?? '')}</p>
        <footer class="reviewer">${escapeHtml(rv.reviewer ?? '')}</footer>
        ${stars(rv.rating)}
      </blockquote>`);
  return `${items.join('\n      ')}
      <p class="served-by">Reviews served by: <span id="reviews-podname">${escapeHtml(r.podname ?? 'unknown')}</span></p>`;
}

/** The whole product page. */
export function renderProductPage(m: PageModel): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Simple Bookstore App</title>
  <link rel="stylesheet" href="/static/bookinfo.css">
</head>
<body>
  <nav><a class="brand" href="/productpage">BookInfo Sample</a><div class="session">${signIn(m.user)}</div></nav>
  <main>
    <h1 id="product-title">${escapeHtml(PRODUCT.title)}</h1>
    <p class="summary">${PRODUCT.descriptionHtml}</p>
    <div class="columns">
      <section><h2>Book Details</h2>
    ${details(m.details)}
      </section>
      <section id="reviews"><h2>Book Reviews</h2>
      ${reviews(m.reviews)}
      </section>
    </div>
  </main>
</body>
</html>
`;
}

/** The landing page at `/`. */
export function renderIndex(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Simple Bookstore App</title><link rel="stylesheet" href="/static/bookinfo.css"></head>
<body><main><h1>Hello! This is a simple bookstore application.</h1>
<p>It is made of four services: productpage, details, reviews (three versions) and ratings.</p>
<p><a class="button" href="/productpage">Open the product page</a></p></main></body></html>
`;
}

/** The stylesheet served at `/static/bookinfo.css`. */
export const STYLESHEET = `body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
nav { display: flex; justify-content: space-between; align-items: center; background: #1f3a5f; color: #fff; padding: .6em 1em; }
nav a, nav .user { color: #fff; text-decoration: none; }
nav form { display: flex; gap: .4em; }
main { max-width: 60em; margin: 1em auto; padding: 0 1em; }
.columns { display: flex; gap: 2em; flex-wrap: wrap; }
.columns section { flex: 1 1 20em; }
table th { text-align: left; padding-right: 1em; }
blockquote.review { border-left: 4px solid #ccc; margin: 0 0 1em; padding: .2em 1em; }
.stars { font-size: 1.4em; letter-spacing: .1em; }
.stars .empty { color: #bbb; }
.error, .rating-error { color: #a00; }
.button { padding: .3em .8em; border: 1px solid currentColor; border-radius: 4px; }
`;
