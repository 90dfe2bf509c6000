// Original file: proxy/api/localv1.proto

import type { Ref as _kpng_localv1_Ref, Ref__Output as _kpng_localv1_Ref__Output } from '../../kpng/localv1/Ref.ts';
import type { Value as _kpng_localv1_Value, Value__Output as _kpng_localv1_Value__Output } from '../../kpng/localv1/Value.ts';
import type { EmptyOp as _kpng_localv1_EmptyOp, EmptyOp__Output as _kpng_localv1_EmptyOp__Output } from '../../kpng/localv1/EmptyOp.ts';

export interface OpItem {
  /**
   * Remove the entry.
   */
  'delete'?: (_kpng_localv1_Ref | null);
  /**
   * Add or replace the entry.
   */
  'set'?: (_kpng_localv1_Value | null);
  /**
   * Forget every entry: a full snapshot follows.
   */
  'reset'?: (_kpng_localv1_EmptyOp | null);
  /**
   * The change set is complete: the view is consistent.
   */
  'sync'?: (_kpng_localv1_EmptyOp | null);
  'op'?: "delete"|"set"|"reset"|"sync";
}

export interface OpItem__Output {
  /**
   * Remove the entry.
   */
  'delete'?: (_kpng_localv1_Ref__Output | null);
  /**
   * Add or replace the entry.
   */
  'set'?: (_kpng_localv1_Value__Output | null);
  /**
   * Forget every entry: a full snapshot follows.
   */
  'reset'?: (_kpng_localv1_EmptyOp__Output | null);
  /**
   * The change set is complete: the view is consistent.
   */
  'sync'?: (_kpng_localv1_EmptyOp__Output | null);
  'op'?: "delete"|"set"|"reset"|"sync";
}
