// The version switcher: the published versions of the site (`versions.json` at its root, written by
// docs/build.py from docs/versions.json) as a list under the sidebar's title; choosing one opens it.
document.addEventListener('DOMContentLoaded', () => {
  const brand = document.querySelector('.sidebar-brand');
  if (!brand) return;
  const root = document.documentElement.dataset.content_root || './';
  const current = DOCUMENTATION_OPTIONS.VERSION;
  const select = document.createElement('select');
  select.className = 'version-switcher';
  select.setAttribute('aria-label', 'Documentation version');
  select.addEventListener('change', () => { window.location.href = select.value; });
  brand.after(select);
  const fill = (versions) => {
    for (const v of versions) {
      const here = v.version === current;
      select.add(new Option(v.name || v.version, here ? root + 'index.html' : v.url, here, here));
    }
  };
  fetch(root + 'versions.json').then((r) => (r.ok ? r.json() : [])).catch(() => [])
    .then((versions) => fill(versions.length ? versions : [{ version: current }]));
});
