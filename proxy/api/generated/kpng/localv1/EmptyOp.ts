// Original file: proxy/api/localv1.proto


export interface EmptyOp {
}

export interface EmptyOp__Output {
}
