// harness/report: JUnit from upstream e2e runs (kind clusters, or the docker-free lab) →
// the parity report: a matrix of spec × backend/family as markdown and as one HTML page.
//
//   const { matrix, markdown, html } = parityReport([{ backend: 'nft', family: 'dual', junit: xml }, ...]);
export { parseJUnit, type CaseStatus, type JUnitCase, type JUnitReport } from './junit.ts';
export {
  buildParityMatrix,
  type ParityCell,
  type ParityColumn,
  type ParityMatrix,
  type ParityRow,
  type ParityRun,
  type SkipNote,
  type SkipNoteFor,
} from './matrix.ts';
export { parityMarkdown, type MarkdownOptions } from './markdown.ts';
export { parityHtml, type HtmlOptions } from './html.ts';
export { parityReport, readParityRuns, writeParityReport, type ParityReport, type ParityReportOptions, type WrittenReport } from './report.ts';
export { parseXml, type XmlElement } from './xml.ts';
