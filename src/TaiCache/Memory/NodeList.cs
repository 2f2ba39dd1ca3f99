namespace TaiCache;

/// <summary>An intrusive doubly linked list of <see cref="MemoryNode"/>s; the head is the most recent. Not thread safe.</summary>
internal sealed class NodeList
{
    public MemoryNode? Head { get; private set; }

    public MemoryNode? Tail { get; private set; }

    public long Weight { get; private set; }

    public int Count { get; private set; }

    public void AddFirst(MemoryNode node)
    {
        node.Prev = null;
        node.Next = Head;
        if (Head is null)
        {
            Tail = node;
        }
        else
        {
            Head.Prev = node;
        }

        Head = node;
        Weight += node.Weight;
        Count++;
    }

    public void Remove(MemoryNode node)
    {
        if (node.Prev is null)
        {
            Head = node.Next;
        }
        else
        {
            node.Prev.Next = node.Next;
        }

        if (node.Next is null)
        {
            Tail = node.Prev;
        }
        else
        {
            node.Next.Prev = node.Prev;
        }

        node.Prev = null;
        node.Next = null;
        Weight -= node.Weight;
        Count--;
    }

    public void Clear()
    {
        Head = null;
        Tail = null;
        Weight = 0;
        Count = 0;
    }
}
