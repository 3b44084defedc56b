import { SQSClient, ListQueuesCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
const c = new SQSClient({ endpoint: 'http://127.0.0.1:9324', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const { QueueUrls = [] } = await c.send(new ListQueuesCommand({ MaxResults: 1000 }));
for (const q of QueueUrls.filter((u) => u.includes('race'))) {
  const a = (await c.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['All'] }))).Attributes;
  console.log(q.split('/').pop(), a.ApproximateNumberOfMessages, a.ApproximateNumberOfMessagesNotVisible);
  if (+a.ApproximateNumberOfMessages > 0) {
    const r = await c.send(
      new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: 10, VisibilityTimeout: 0, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }),
    );
    for (const m of r.Messages ?? []) console.log(m.Body, m.Attributes.ApproximateReceiveCount, JSON.stringify(m.MessageAttributes['switchyard-headers']?.StringValue));
  }
}
