// Module hooks (registered with module.register) that let tfjs-core's own specs, shipped as ES modules in
// node_modules/@tensorflow/tfjs-core/dist, load in Node. Their imports were written for a bundler: './foo' and '..'
// without extensions, and `import * as seedrandom from 'seedrandom'` (a CommonJS package whose exports Node can't see
// as named exports). Only imports from inside tfjs-core's dist are touched.
const DIST = '/@tensorflow/tfjs-core/dist/';
const SEEDRANDOM = new URL('./seedrandom.mjs', import.meta.url).href;

function fromTfjsCore(context) {
  return context.parentURL !== undefined && context.parentURL.includes(DIST);
}

export async function resolve(specifier, context, next) {
  if (!fromTfjsCore(context)) return next(specifier, context);
  if (specifier === 'seedrandom') return { url: SEEDRANDOM, shortCircuit: true };
  const relative = specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../');
  if (!relative || specifier.endsWith('.js')) return next(specifier, context);
  try {
    return await next(`${specifier}.js`, context);
  } catch {
    return next(`${specifier}/index.js`, context);
  }
}
