// Original file: proxy/api/localv1.proto


export interface IPFilters {
  /**
   * loadBalancerSourceRanges as canonical CIDRs.
   */
  'sourceRanges'?: (string)[];
}

export interface IPFilters__Output {
  /**
   * loadBalancerSourceRanges as canonical CIDRs.
   */
  'sourceRanges': (string)[];
}
