// Copies the pinned front-end packages into static/vendor (git-ignored),
// which the Go binary embeds. Paths in the stylesheets are rewritten from
// /assets/ to where the portal serves them.
//
// The portal is not a service on GOV.UK, so it must not use the GDS
// Transport typeface (GOV.UK Design System guidance): the stylesheets are
// rewritten to Arial, as compiling them with $govuk-font-family: arial
// would, and the font files are not shipped.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const nm = join(here, 'node_modules')
const out = join(here, 'static', 'vendor')
const assetsURL = '/static/vendor/assets/'

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const css = (src, dest) => {
  const text = readFileSync(join(nm, src), 'utf8')
    .replace(/@font-face\{font-family:GDS Transport;[^}]*\}/g, '')
    .replaceAll('font-family:GDS Transport,arial,sans-serif', 'font-family:arial,sans-serif')
    .replaceAll('/assets/', assetsURL)
  if (text.includes('GDS Transport')) throw new Error(`${src}: GDS Transport is still referenced`)
  writeFileSync(join(out, dest), text)
}
const copy = (src, dest) => cpSync(join(nm, src), join(out, dest), { recursive: true })

css('govuk-frontend/dist/govuk/govuk-frontend.min.css', 'govuk-frontend.min.css')
copy('govuk-frontend/dist/govuk/govuk-frontend.min.js', 'govuk-frontend.min.js')
copy('govuk-frontend/dist/govuk/assets/images', 'assets/images')
copy('govuk-frontend/dist/govuk/assets/manifest.json', 'assets/manifest.json')
css('@ministryofjustice/frontend/moj/moj-frontend.min.css', 'moj-frontend.min.css')
copy('@ministryofjustice/frontend/moj/assets/images', 'assets/images')
copy('tus-js-client/dist/tus.min.js', 'tus.min.js')
writeFileSync(join(out, 'VERSIONS'), ['govuk-frontend', '@ministryofjustice/frontend', 'tus-js-client']
  .map((p) => `${p} ${JSON.parse(readFileSync(join(nm, p, 'package.json'), 'utf8')).version}`).join('\n') + '\n')
console.log('front-end assets built into web/static/vendor')
