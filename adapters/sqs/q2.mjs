import { SQSClient, ListQueuesCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
const c = new SQSClient({ endpoint: 'http://127.0.0.1:9324', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const { QueueUrls = [] } = await c.send(new ListQueuesCommand({ MaxResults: 1000 }));
const byPrefix = {};
for (const q of QueueUrls) {
  const n = q.split('/').pop();
  const p = n.split('_')[0];
  byPrefix[p] = (byPrefix[p] ?? 0) + 1;
}
console.log(byPrefix);
for (const q of QueueUrls) {
  const a = (await c.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['All'] }))).Attributes;
  if (+a.ApproximateNumberOfMessages + +a.ApproximateNumberOfMessagesNotVisible > 0)
    console.log(q.split('/').pop(), a.ApproximateNumberOfMessages, a.ApproximateNumberOfMessagesNotVisible, a.ApproximateNumberOfMessagesDelayed);
}
