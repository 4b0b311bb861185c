/**
 * The job's backbone in int8: Xception cut at add_12, calibrated (minmax: no
 * clipping to tune on 8 photos) on 8 training photos, against its fp32 export on 4 other real
 * photos. Tolerance: cosine similarity of the pooled features ≥ 0.98 for every
 * photo (measured 0.998–0.999 on these 4; the job-level bar is the test score, see docs/int8.md).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { HUNG_AFTER_MS } from '../failsafe.ts';
import { test } from 'node:test';
import { rowCosines } from '../cosine.ts';
import { int8Backbone, int8FixturePresent, PHOTOS, photosInput, pooledOnnx } from './helpers.ts';

const SHARED = path.resolve(import.meta.dirname, '../../../shared');
const XCEPTION = path.join(SHARED, 'models/xception_block13_299');
const available = int8FixturePresent(XCEPTION);

test(
  'Xception @ add_12 in int8: every convolution int8, pooled features within cosine 0.98 of fp32 on 4 real photos',
  { skip: !available && 'shared model or photos not present', timeout: HUNG_AFTER_MS },
  async (t) => {
    const { fp32, int8, summary } = await int8Backbone(XCEPTION, 'add_12', 299, 2);
    assert.equal(
      summary.quantizedConvs,
      70,
      'all 70 convolutions (36 depthwise + pointwise pairs, residual 1×1s, the stem)',
    );
    assert.deepEqual(summary.floatConvs, []);

    const input = await photosInput(299);
    const cosines = rowCosines(await pooledOnnx(int8, input, 299), await pooledOnnx(fp32, input, 299), PHOTOS.length);
    for (const [i, cos] of cosines.entries()) {
      t.diagnostic(`${path.basename(PHOTOS[i])}: cosine ${cos.toFixed(5)}`);
      assert.ok(cos >= 0.98 && cos < 1, `${PHOTOS[i]}: cosine ${cos}`);
    }
  },
);
