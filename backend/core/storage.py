"""Static files in production: whitenoise's compressed, hashed files, with the imports of the
agents' app's JavaScript modules rewritten to the hashed names. Without that, `app.<hash>.js`
would import `./db.js`, a name the service worker never cached, and the app would not open
offline."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
