// Progressive enhancement only: every page works without JavaScript.
document.body.classList.add('js-enabled', 'govuk-frontend-supported')
const { initAll } = await import('/static/govuk/govuk-frontend.min.js')
initAll()
